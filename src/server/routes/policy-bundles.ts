import type { FastifyInstance } from 'fastify';
import { InterlockError } from '../../errors.ts';
import { SVID, actorOf, roles } from '../auth.ts';
import type { ServerDeps } from '../app.ts';
import type { GatewayPolicyReport } from '../policy-service.ts';
import { CLUSTER_NAME } from './schemas.ts';
import { gatewayCaller } from './trust.ts';

const VERSION_PARAMS = { type: 'object', properties: { version: { type: 'integer', minimum: 1 } } } as const;
const COUNT = { type: 'integer', minimum: 0 } as const;

/** Signed bundles for gateways, their reports, staged rollout, rollback and status. */
export function registerPolicyBundleRoutes(app: FastifyInstance, deps: ServerDeps): void {
  const { store, policies } = deps;

  app.get('/v1/policy/bundle', { config: { auth: SVID } }, async () => policies.signedBundle().then(({ jws, bundle }) => ({ jws, version: bundle.version, expiresAt: bundle.expiresAt })));

  app.post<{ Body: Omit<GatewayPolicyReport, 'cluster' | 'gateway' | 'reportedAt'> }>(
    '/v1/policy/report',
    {
      config: { auth: SVID },
      schema: {
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['enforcedVersion', 'candidateVersion', 'candidateMode', 'state', 'expiresAt', 'evaluated', 'disagreements', 'allowToDeny', 'denyToAllow'],
          properties: {
            enforcedVersion: { type: ['integer', 'null'] },
            candidateVersion: { type: ['integer', 'null'] },
            candidateMode: { enum: ['dry-run', 'canary', null] },
            state: { enum: ['fresh', 'expired', 'unavailable'] },
            expiresAt: { type: ['string', 'null'], maxLength: 40 },
            evaluated: COUNT,
            disagreements: COUNT,
            allowToDeny: COUNT,
            denyToAllow: COUNT,
          },
        },
      },
    },
    async (request, reply) => {
      const caller = await gatewayCaller(request, deps);
      await policies.report({ ...request.body, cluster: caller.cluster, gateway: caller.gateway, reportedAt: deps.clock.now().toISOString() });
      return reply.code(204).send();
    },
  );

  app.post<{ Params: { version: number }; Body: { stage: 'dry-run' | 'canary'; clusters?: string[]; percent?: number } }>(
    '/v1/policies/:version/stage',
    {
      config: { auth: roles('policy-approver') },
      schema: {
        params: VERSION_PARAMS,
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['stage'],
          properties: {
            stage: { enum: ['dry-run', 'canary'] },
            clusters: { type: 'array', maxItems: 1000, items: CLUSTER_NAME },
            percent: { type: 'integer', minimum: 0, maximum: 100 },
          },
        },
      },
    },
    async (request) => {
      const { stage, clusters = [], percent = 0 } = request.body;
      if (stage === 'canary' && clusters.length === 0 && percent === 0) {
        throw new InterlockError('IL_ERR_REQUEST_INVALID', 'a canary needs clusters or a percentage', { field: 'body.clusters' });
      }
      return policies.stage(request.params.version, stage, { clusters, percent }, actorOf(request));
    },
  );

  app.post<{ Params: { version: number } }>('/v1/policies/:version/rollback', { config: { auth: roles('policy-approver') }, schema: { params: VERSION_PARAMS } }, async (request) =>
    policies.rollback(request.params.version, actorOf(request)),
  );

  app.get('/v1/policy/status', { config: { auth: roles('auditor', 'policy-author', 'policy-approver') } }, async () =>
    policies.status((await store.listClusters()).map((c) => c.name)),
  );
}
