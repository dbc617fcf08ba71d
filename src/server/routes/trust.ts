import type { FastifyInstance, FastifyRequest } from 'fastify';
import { InterlockError } from '../../errors.ts';
import { isGatewayId, parseWorkloadSpiffeId } from '../../identity/spiffe-id.ts';
import { SVID, actorOf, roles } from '../auth.ts';
import type { ServerDeps } from '../app.ts';
import { putTrustReport, trustDocument } from '../trust.ts';
import type { RotationStep } from '../ca-rotation.ts';
import { CLUSTER_NAME } from './schemas.ts';

const TARGET_PARAMS = { type: 'object', properties: { target: CLUSTER_NAME } } as const;
const EXPECT_BODY = {
  type: 'object',
  additionalProperties: false,
  required: ['expect'],
  properties: { expect: { enum: ['published', 'switched'] } },
} as const;

/** The gateway identity behind an SVID-authenticated request, and its cluster. */
export async function gatewayCaller(request: FastifyRequest, deps: ServerDeps): Promise<{ gateway: string; cluster: string }> {
  const svid = request.caller.svid!;
  if (!isGatewayId(parseWorkloadSpiffeId(svid.id))) throw new InterlockError('IL_ERR_AUTHN_NOT_A_GATEWAY', `${svid.id} is not a gateway`, { field: 'clientCertificate' });
  const cluster = (await deps.store.listClusters()).find((c) => c.trustDomain === svid.trustDomain);
  if (!cluster) throw new InterlockError('IL_ERR_CLUSTER_UNKNOWN', `no cluster has trust domain ${svid.trustDomain}`, { field: 'clientCertificate' });
  return { gateway: svid.id, cluster: cluster.name };
}

/** What gateways trust (and confirm they hold), and the staged CA rotations that change it. */
export function registerTrustRoutes(app: FastifyInstance, deps: ServerDeps): void {
  app.get('/v1/trust', { config: { auth: SVID } }, async () => trustDocument(deps.store));

  app.post<{ Body: { version: number; serials: string[] } }>(
    '/v1/trust/report',
    {
      config: { auth: SVID },
      schema: {
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['version', 'serials'],
          properties: { version: { type: 'integer', minimum: 0 }, serials: { type: 'array', maxItems: 10_000, items: { type: 'string', pattern: '^[0-9a-fA-F]{1,64}$' } } },
        },
      },
    },
    async (request, reply) => {
      const caller = await gatewayCaller(request, deps);
      await putTrustReport(deps.store, { ...caller, version: request.body.version, serials: request.body.serials, reportedAt: deps.clock.now().toISOString() });
      return reply.code(204).send();
    },
  );

  app.get<{ Params: { target: string } }>(
    '/v1/ca/rotations/:target',
    { config: { auth: roles('key-custodian', 'operator', 'auditor') }, schema: { params: TARGET_PARAMS } },
    async (request) => deps.rotations.readiness(request.params.target),
  );

  app.post<{ Params: { target: string } }>('/v1/ca/rotations/:target', { config: { auth: roles('key-custodian') }, schema: { params: TARGET_PARAMS } }, async (request, reply) => {
    const { target } = request.params;
    if (target !== 'root' && !(await deps.store.getCluster(target))) throw new InterlockError('IL_ERR_CLUSTER_UNKNOWN', `no cluster named ${target}`, { field: 'cluster' });
    return reply.code(201).send(await deps.rotations.begin(target, actorOf(request)));
  });

  app.post<{ Params: { target: string }; Body: { expect: RotationStep } }>(
    '/v1/ca/rotations/:target/advance',
    { config: { auth: roles('key-custodian') }, schema: { params: TARGET_PARAMS, body: EXPECT_BODY } },
    async (request) => deps.rotations.advance(request.params.target, request.body.expect, actorOf(request)),
  );

  app.post<{ Params: { target: string }; Body: { expect: RotationStep } }>(
    '/v1/ca/rotations/:target/revert',
    { config: { auth: roles('key-custodian') }, schema: { params: TARGET_PARAMS, body: EXPECT_BODY } },
    async (request) => deps.rotations.revert(request.params.target, request.body.expect, actorOf(request)),
  );
}
