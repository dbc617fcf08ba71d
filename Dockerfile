# syntax=docker/dockerfile:1
# One image for every Interlock program: `interlock server` (the control
# plane) and `interlock gateway`, as rendered by `interlock deploy render`
# (docs/deploy.md). The TypeScript sources run through tsx, a runtime
# dependency (bin/interlock.mjs), so there is no compile step.
#
#   docker build -t ghcr.io/acme/interlock:0.1.0 .
#
# Nothing secret is in the image: CA key secrets, database passwords and
# tokens are mounted by Kubernetes at run time.

ARG NODE_IMAGE=node:20-bookworm-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /app
# better-sqlite3 builds from source when no prebuilt binary fits the platform.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
# Dependencies first, so a source change does not reinstall them.
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY bin ./bin
COPY src ./src
COPY examples ./examples
# Development tools (TypeScript, the test PostgreSQL, the browser driver) stay out of the image.
RUN npm prune --omit=dev --no-audit --no-fund \
 && npm cache clean --force

FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production
WORKDIR /app
# Owned by root and read-only to the user that runs it: the program cannot alter its own code.
COPY --from=build --chown=root:root /app /app
# The uid the rendered pods run as (runAsUser 10001); no shell login, no home needed.
USER 10001:10001
# server API, gateway east-west, gateway outbound, gateway admin
EXPOSE 8443 15443 15001 15021
ENTRYPOINT ["node", "bin/interlock.mjs"]
CMD ["--help"]
