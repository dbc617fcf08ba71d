import type { FastifyInstance } from 'fastify';
import { SVID } from '../auth.ts';
import type { ServerDeps } from '../app.ts';

const HEARTBEAT_MS = 15_000;

/** Endpoints for holders of an SVID: renewal, JWT-SVIDs and the watch stream. */
export function registerWorkloadRoutes(app: FastifyInstance, deps: ServerDeps): void {
  app.post<{ Body: { csr: string } }>(
    '/v1/svid/renew',
    {
      config: { auth: SVID },
      schema: { body: { type: 'object', additionalProperties: false, required: ['csr'], properties: { csr: { type: 'string', minLength: 100, maxLength: 8192 } } } },
    },
    async (request, reply) => {
      const svid = request.caller.svid!;
      return reply.code(201).send(await deps.identities.renew(svid.serial, svid.id, request.body.csr));
    },
  );

  app.post<{ Body: { audience: string[]; ttlSeconds?: number } }>(
    '/v1/svid/jwt',
    {
      config: { auth: SVID },
      schema: {
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['audience'],
          properties: {
            audience: { type: 'array', minItems: 1, maxItems: 10, items: { type: 'string', minLength: 1, maxLength: 256 } },
            ttlSeconds: { type: 'integer', minimum: 60, maximum: 3600 },
          },
        },
      },
    },
    async (request, reply) => {
      const svid = request.caller.svid!;
      return reply.code(201).send(await deps.identities.jwtSvid({ spiffeId: svid.id, serial: svid.serial }, request.body.audience, request.body.ttlSeconds));
    },
  );

  // Server-Sent Events (WHATWG HTML §9.2): bundle changes, revocations and
  // policy activations, each with its event id so a client reconnecting to
  // any replica resumes with Last-Event-ID and misses nothing.
  app.get<{ Querystring: { after?: number } }>(
    '/v1/watch',
    { config: { auth: SVID }, schema: { querystring: { type: 'object', additionalProperties: false, properties: { after: { type: 'integer', minimum: 0 } } } } },
    async (request, reply) => {
      const header = Number(request.headers['last-event-id']);
      // A client without Last-Event-ID or ?after starts from now: it fetched the current state when it started.
      let after = Number.isInteger(header) && header >= 0 ? header : (request.query.after ?? (await deps.store.latestEventId()));
      reply.hijack();
      const out = reply.raw;
      out.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive' });
      const send = (event: { id: number; type: string; payload: unknown; createdAt: string }) => {
        if (event.id <= after) return;
        after = event.id;
        out.write(`id: ${event.id}\nevent: ${event.type}\ndata: ${JSON.stringify({ ...((event.payload as object) ?? {}), at: event.createdAt })}\n\n`);
      };
      const buffered: Parameters<typeof send>[0][] = [];
      let replaying = true;
      const unsubscribe = deps.events.subscribe((event) => (replaying ? buffered.push(event) : send(event)));
      deps.metrics.watchStreams.inc();
      for (const event of await deps.store.eventsSince(after, 1000)) send(event);
      replaying = false;
      for (const event of buffered) send(event);
      out.write(`: connected, last event ${after}\n\n`);
      const heartbeat = setInterval(() => out.write(': heartbeat\n\n'), HEARTBEAT_MS);
      request.raw.socket.once('close', () => {
        clearInterval(heartbeat);
        unsubscribe();
        deps.metrics.watchStreams.dec();
      });
    },
  );
}
