import type { FastifyInstance } from 'fastify';
import { PUBLIC } from '../auth.ts';
import type { ServerDeps } from '../app.ts';
import { CLUSTER_NAME } from './schemas.ts';

const CSR = { type: 'string', minLength: 100, maxLength: 8192 } as const;

/** Endpoints reachable before a caller has any certificate. */
export function registerPublicRoutes(app: FastifyInstance, deps: ServerDeps): void {
  app.get('/healthz', { config: { auth: PUBLIC } }, async () => ({ status: 'ok' }));

  app.get('/readyz', { config: { auth: PUBLIC } }, async (_request, reply) => {
    try {
      await deps.store.latestEventId();
      return { status: 'ready', store: deps.store.kind };
    } catch {
      return reply.code(503).send({ status: 'not ready', store: deps.store.kind });
    }
  });

  // SPIFFE bundle endpoint (SPIFFE Trust Domain and Bundle §5): the JWK Set
  // with X.509 roots and JWT-SVID keys, and a refresh hint for federation.
  app.get('/v1/bundle', { config: { auth: PUBLIC } }, async (_request, reply) => {
    const bundle = await deps.ca.spiffeBundle();
    const jwtKeys = await deps.identities.jwtPublicKeys();
    void reply.header('cache-control', `max-age=${bundle.spiffe_refresh_hint}`).type('application/json');
    return { ...bundle, keys: [...bundle.keys, ...jwtKeys] };
  });

  app.get('/v1/bundle.pem', { config: { auth: PUBLIC } }, async (_request, reply) => {
    void reply.type('application/x-pem-file');
    return deps.ca.bundlePem();
  });

  // Both attestation routes answer 201 with { spiffeId, serial, certChainPem, bundlePem, notAfter }.
  app.post<{ Body: { token: string; csr: string } }>(
    '/v1/attest/join-token',
    {
      config: { auth: PUBLIC },
      schema: {
        body: { type: 'object', additionalProperties: false, required: ['token', 'csr'], properties: { token: { type: 'string', minLength: 8, maxLength: 200 }, csr: CSR } },
      },
    },
    async (request, reply) => reply.code(201).send(await deps.identities.attestWithJoinToken(request.body.token, request.body.csr, request.ip)),
  );

  app.post<{ Body: { cluster: string; token: string; csr: string } }>(
    '/v1/attest/k8s',
    {
      config: { auth: PUBLIC },
      schema: {
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['cluster', 'token', 'csr'],
          properties: { cluster: CLUSTER_NAME, token: { type: 'string', minLength: 20, maxLength: 16384 }, csr: CSR },
        },
      },
    },
    async (request, reply) => reply.code(201).send(await deps.identities.attestWithServiceAccountToken(request.body.cluster, request.body.token, request.body.csr, request.ip)),
  );
}
