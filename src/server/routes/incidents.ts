import type { FastifyInstance } from 'fastify';
import { SVID, actorOf, roles } from '../auth.ts';
import { gatewayCaller } from './trust.ts';
import type { ServerDeps } from '../app.ts';
import { CLUSTER_NAME } from './schemas.ts';

const ID_PARAMS = { type: 'object', properties: { id: { type: 'string', format: 'uuid' } } } as const;

/** Compromise remediation and its evidence (server/incidents.ts). */
export function registerIncidentRoutes(app: FastifyInstance, deps: ServerDeps): void {
  app.post<{ Body: { spiffeId?: string; cluster?: string; isolate?: boolean; reason: string } }>(
    '/v1/incidents/compromise',
    {
      config: { auth: roles('key-custodian') },
      schema: {
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['reason'],
          properties: {
            spiffeId: { type: 'string', maxLength: 2048 },
            cluster: CLUSTER_NAME,
            isolate: { type: 'boolean' },
            reason: { type: 'string', minLength: 1, maxLength: 500 },
          },
        },
      },
    },
    async (request, reply) => {
      const { spiffeId, cluster, isolate, reason } = request.body;
      const scope = { ...(spiffeId ? { spiffeId } : {}), ...(cluster ? { cluster } : {}) };
      return reply.code(201).send(await deps.incidents.compromise({ scope, reason, ...(isolate ? { isolate } : {}) }, actorOf(request)));
    },
  );

  // Gateways report what they see; the detectors decide (server/detectors.ts).
  app.post<{ Body: { signals: Array<{ kind: string } & Record<string, unknown>> } }>(
    '/v1/signals',
    {
      config: { auth: SVID },
      bodyLimit: 256 * 1024,
      schema: {
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['signals'],
          properties: {
            signals: {
              type: 'array',
              maxItems: 100,
              items: { type: 'object', required: ['kind'], properties: { kind: { enum: ['foreign-svid', 'deny-burst', 'unknown-ca'] }, at: { type: 'string', maxLength: 40 } }, maxProperties: 12 },
            },
          },
        },
      },
    },
    async (request, reply) => {
      const caller = await gatewayCaller(request, deps);
      const alerts = await deps.detectors.ingest(caller, request.body.signals);
      return reply.code(202).send({ received: request.body.signals.length, alerts });
    },
  );

  // Detector findings and alert-rule alerts (server/alerting.ts), oldest first; ?status=firing for what is wrong now.
  app.get<{ Querystring: { status?: 'firing' | 'resolved' } }>(
    '/v1/alerts',
    { config: { auth: roles('key-custodian', 'operator', 'auditor') }, schema: { querystring: { type: 'object', additionalProperties: false, properties: { status: { enum: ['firing', 'resolved'] } } } } },
    async (request) => (await deps.detectors.alerts()).filter((a) => !request.query.status || a.status === request.query.status),
  );

  app.get('/v1/incidents', { config: { auth: roles('key-custodian', 'operator', 'auditor') } }, async () => deps.incidents.list());

  app.get<{ Params: { id: string } }>('/v1/incidents/:id', { config: { auth: roles('key-custodian', 'operator', 'auditor') }, schema: { params: ID_PARAMS } }, async (request) =>
    deps.incidents.get(request.params.id),
  );

  app.get<{ Params: { id: string } }>('/v1/incidents/:id/evidence', { config: { auth: roles('key-custodian', 'auditor') }, schema: { params: ID_PARAMS } }, async (request) =>
    deps.incidents.evidence(request.params.id),
  );

  app.post<{ Params: { id: string }; Body: { note: string } }>(
    '/v1/incidents/:id/resolve',
    {
      config: { auth: roles('key-custodian') },
      schema: { params: ID_PARAMS, body: { type: 'object', additionalProperties: false, required: ['note'], properties: { note: { type: 'string', minLength: 1, maxLength: 500 } } } },
    },
    async (request) => deps.incidents.resolve(request.params.id, actorOf(request), request.body.note),
  );
}
