import type { FastifyInstance } from 'fastify';
import { InterlockError } from '../../errors.ts';
import { isGatewayId, parseWorkloadSpiffeId } from '../../identity/spiffe-id.ts';
import { SVID, actorOf, roles } from '../auth.ts';
import type { ServerDeps } from '../app.ts';
import type { GatewayPolicyReport } from '../policy-service.ts';

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
      const svid = request.caller.svid!;
      if (!isGatewayId(parseWorkloadSpiffeId(svid.id))) throw new InterlockError('IL_ERR_AUTHN_NOT_A_GATEWAY', `${svid.id} is not a gateway`, { field: 'clientCertificate' });
      const cluster = (await store.listClusters()).find((c) => c.trustDomain === svid.trustDomain);
      if (!cluster) throw new InterlockError('IL_ERR_CLUSTER_UNKNOWN', `no cluster has trust domain ${svid.trustDomain}`, { field: 'clientCertificate' });
      await policies.report({ ...request.body, cluster: cluster.name, gateway: svid.id, reportedAt: deps.clock.now().toISOString() });
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
            clusters: { type: 'array', maxItems: 1000, items: { type: 'string', pattern: '^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$' } },
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
