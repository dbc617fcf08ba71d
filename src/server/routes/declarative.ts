import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { PlanBase } from '../../declarative/types.ts';
import { actorOf, roles } from '../auth.ts';
import type { ServerDeps } from '../app.ts';
import { DeclarativeService, type DeclarativeCaller } from '../declarative-service.ts';
import { CLUSTER_NAME } from './schemas.ts';

// A whole configuration, with its policy text, can exceed the API's usual 256 KiB.
const CONFIG_BODY_LIMIT = 8 * 1024 * 1024;
const BASE = {
  type: 'object',
  additionalProperties: false,
  required: ['revision', 'stateDigest'],
  properties: { revision: { type: 'integer', minimum: 0 }, stateDigest: { type: 'string', pattern: '^sha256:[0-9a-f]{64}$' } },
} as const;
const REVISION_PARAMS = { type: 'object', properties: { revision: { type: 'integer', minimum: 1 } } } as const;

function callerOf(request: FastifyRequest): DeclarativeCaller {
  return { actor: actorOf(request), ...(request.caller.admin ? { admin: request.caller.admin } : {}) };
}

/**
 * Declarative configuration (docs/declarative.md): plan, apply, revisions and
 * rollback, for `interlock apply`, `diff` and `config`; and the declared
 * service catalogue that Service documents fill. The desired state is checked
 * in full by declarative/normalise.ts#checkDesiredState; the JSON schemas
 * here only shape the envelope.
 */
export function registerDeclarativeRoutes(app: FastifyInstance, deps: ServerDeps): void {
  const config = new DeclarativeService(deps);

  // An auditor may plan too: `interlock diff` is how drift is watched.
  app.post<{ Body: { desired: object; prune?: boolean } }>(
    '/v1/config/plan',
    {
      bodyLimit: CONFIG_BODY_LIMIT,
      config: { auth: roles('operator', 'auditor') },
      schema: { body: { type: 'object', additionalProperties: false, required: ['desired'], properties: { desired: { type: 'object' }, prune: { type: 'boolean' } } } },
    },
    async (request) => config.plan(request.body.desired, { prune: request.body.prune ?? false, caller: callerOf(request) }),
  );

  app.post<{ Body: { desired: object; base: PlanBase; prune?: boolean } }>(
    '/v1/config/apply',
    {
      bodyLimit: CONFIG_BODY_LIMIT,
      config: { auth: roles('operator') },
      schema: { body: { type: 'object', additionalProperties: false, required: ['desired', 'base'], properties: { desired: { type: 'object' }, base: BASE, prune: { type: 'boolean' } } } },
    },
    async (request, reply) => {
      const result = await config.apply(request.body.desired, { base: request.body.base, prune: request.body.prune ?? false }, callerOf(request));
      return reply.code(result.revision ? 201 : 200).send(result);
    },
  );

  app.get('/v1/config/revisions', { config: { auth: roles('operator', 'auditor') } }, async () => config.revisions());

  app.get<{ Params: { revision: number } }>(
    '/v1/config/revisions/:revision',
    { config: { auth: roles('operator', 'auditor') }, schema: { params: REVISION_PARAMS } },
    async (request) => config.revision(request.params.revision),
  );

  app.post<{ Params: { revision: number }; Body: { base: PlanBase; prune?: boolean } }>(
    '/v1/config/revisions/:revision/rollback',
    {
      config: { auth: roles('operator') },
      schema: { params: REVISION_PARAMS, body: { type: 'object', additionalProperties: false, required: ['base'], properties: { base: BASE, prune: { type: 'boolean' } } } },
    },
    async (request, reply) => {
      const result = await config.rollback(request.params.revision, { base: request.body.base, prune: request.body.prune ?? false }, callerOf(request));
      return reply.code(result.revision ? 201 : 200).send(result);
    },
  );

  app.get<{ Querystring: { cluster?: string } }>(
    '/v1/services',
    {
      config: { auth: roles('auditor', 'operator', 'policy-author', 'policy-approver') },
      schema: { querystring: { type: 'object', additionalProperties: false, properties: { cluster: CLUSTER_NAME } } },
    },
    async (request) => deps.store.listServices(request.query.cluster ? { cluster: request.query.cluster } : {}),
  );
}
