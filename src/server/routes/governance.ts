import type { FastifyInstance, FastifyRequest } from 'fastify';
import { InterlockError } from '../../errors.ts';
import { parsePolicies } from '../../policy/pdp.ts';
import { validateAgainstSchema } from '../../policy/schema-validation.ts';
import type { PolicyVersionRow } from '../../store/types.ts';
import { actorOf, roles } from '../auth.ts';
import { revokeSvids } from '../revoke.ts';
import type { ServerDeps } from '../app.ts';

const VERSION_PARAMS = { type: 'object', properties: { version: { type: 'integer', minimum: 1 } } } as const;

/**
 * Certificate inventory and revocation (`key-custodian`), policy versions with
 * separation of duties (`policy-author` proposes, another person holding
 * `policy-approver` approves and activates), and the audit log (`auditor`).
 */
export function registerGovernanceRoutes(app: FastifyInstance, deps: ServerDeps): void {
  const { store } = deps;
  const now = () => deps.clock.now().toISOString();

  app.get<{ Querystring: { cluster?: string; spiffeId?: string; valid?: boolean; revoked?: boolean; limit?: number } }>(
    '/v1/svids',
    {
      config: { auth: roles('auditor', 'key-custodian', 'operator') },
      schema: {
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: { cluster: { type: 'string' }, spiffeId: { type: 'string' }, valid: { type: 'boolean' }, revoked: { type: 'boolean' }, limit: { type: 'integer', minimum: 1, maximum: 10_000 } },
        },
      },
    },
    async (request) => {
      const q = request.query;
      return store.listSvids({
        ...(q.cluster ? { cluster: q.cluster } : {}),
        ...(q.spiffeId ? { spiffeId: q.spiffeId } : {}),
        ...(q.valid ? { validAt: now() } : {}),
        ...(q.revoked !== undefined ? { revoked: q.revoked } : {}),
        limit: q.limit ?? 1000,
      });
    },
  );

  app.post<{ Params: { serial: string }; Body: { reason: string } }>(
    '/v1/svids/:serial/revoke',
    {
      config: { auth: roles('key-custodian') },
      schema: {
        params: { type: 'object', properties: { serial: { type: 'string', pattern: '^[0-9a-f]{2,40}$' } } },
        body: { type: 'object', additionalProperties: false, required: ['reason'], properties: { reason: { type: 'string', minLength: 1, maxLength: 500 } } },
      },
    },
    async (request) => {
      const { serial } = request.params;
      const at = now();
      const svid = await store.transaction(async (tx) => {
        const found = await tx.getSvid(serial);
        if (!found) throw new InterlockError('IL_ERR_NOT_FOUND', `no SVID with serial ${serial}`, { field: 'serial' });
        await revokeSvids(tx, [found], request.body.reason, actorOf(request), at);
        return (await tx.getSvid(serial))!;
      });
      return svid;
    },
  );

  app.post<{ Body: { text: string; comment?: string; schema?: string } }>(
    '/v1/policies',
    {
      config: { auth: roles('policy-author') },
      schema: {
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['text'],
          properties: { text: { type: 'string', minLength: 1, maxLength: 1_000_000 }, comment: { type: 'string', maxLength: 1000 }, schema: { type: 'string', minLength: 1, maxLength: 1_000_000 } },
        },
      },
    },
    async (request, reply) => {
      const compiled = parsePolicies(request.body.text, 'request body');
      if (request.body.schema) validateAgainstSchema(request.body.text, request.body.schema);
      const proposedAt = now();
      const row = await store.transaction(async (tx) => {
        const stored = await tx.insertPolicyVersion({
          text: request.body.text,
          digest: compiled.digest,
          status: 'proposed',
          proposedBy: actorOf(request),
          proposedAt,
          decidedBy: null,
          decidedAt: null,
          comment: request.body.comment ?? null,
        });
        if (request.body.schema) await tx.putSetting(`policy-schema:${stored.version}`, request.body.schema);
        await tx.appendAudit(
          { type: 'policy.proposed', actor: stored.proposedBy, data: { version: stored.version, digest: stored.digest, policies: compiled.policies.map((p) => p.id), schemaValidated: Boolean(request.body.schema) } },
          proposedAt,
        );
        return stored;
      });
      return reply.code(201).send(row);
    },
  );

  app.get('/v1/policies', { config: { auth: roles('auditor', 'policy-author', 'policy-approver') } }, async () => store.listPolicyVersions());

  /** Approve and activate share their checks: the version exists, is in `from`, and was not proposed by the caller. */
  const decide = async (request: FastifyRequest<{ Params: { version: number }; Body?: { comment?: string } }>, from: PolicyVersionRow['status'], to: PolicyVersionRow['status']) => {
    const actor = actorOf(request);
    const { version } = request.params;
    const at = now();
    return store.transaction(async (tx) => {
      const row = await tx.getPolicyVersion(version);
      if (!row) throw new InterlockError('IL_ERR_NOT_FOUND', `no policy version ${version}`, { field: 'version' });
      if (row.proposedBy === actor) {
        throw new InterlockError('IL_ERR_SEPARATION_OF_DUTIES', `${actor} proposed version ${version} and so cannot ${to === 'active' ? 'activate' : to === 'approved' ? 'approve' : 'decide on'} it`, { field: 'version' });
      }
      if (row.status !== from) {
        throw new InterlockError('IL_ERR_POLICY_STATE_CONFLICT', `version ${version} is ${row.status}; this step needs it ${from}`, { field: 'version' });
      }
      if (to === 'active') {
        const current = await tx.getActivePolicy();
        if (current) await tx.setPolicyStatus(current.version, 'active', 'superseded', actor, at);
      }
      if (!(await tx.setPolicyStatus(version, from, to, actor, at, request.body?.comment ?? null))) {
        throw new InterlockError('IL_ERR_POLICY_STATE_CONFLICT', `version ${version} changed state meanwhile`, { field: 'version' });
      }
      await tx.appendAudit({ type: `policy.${to}`, actor, data: { version, digest: row.digest, proposedBy: row.proposedBy } }, at);
      if (to === 'active') await tx.appendEvent('policy.activated', { version, digest: row.digest }, at);
      return (await tx.getPolicyVersion(version))!;
    });
  };

  const decision = { type: 'object', additionalProperties: false, properties: { comment: { type: 'string', maxLength: 1000 } } } as const;
  app.post<{ Params: { version: number }; Body?: { comment?: string } }>(
    '/v1/policies/:version/approve',
    { config: { auth: roles('policy-approver') }, schema: { params: VERSION_PARAMS, body: decision } },
    (request) => decide(request, 'proposed', 'approved'),
  );
  app.post<{ Params: { version: number }; Body?: { comment?: string } }>(
    '/v1/policies/:version/activate',
    { config: { auth: roles('policy-approver') }, schema: { params: VERSION_PARAMS, body: decision } },
    async (request) => {
      const row = await decide(request, 'approved', 'active');
      await deps.policies.clearRolloutIf(row.version);
      return row;
    },
  );
  app.post<{ Params: { version: number }; Body?: { comment?: string } }>(
    '/v1/policies/:version/reject',
    { config: { auth: roles('policy-approver') }, schema: { params: VERSION_PARAMS, body: decision } },
    (request) => decide(request, 'proposed', 'rejected'),
  );

  app.get<{ Querystring: { after?: number; limit?: number } }>(
    '/v1/audit',
    {
      config: { auth: roles('auditor') },
      schema: { querystring: { type: 'object', additionalProperties: false, properties: { after: { type: 'integer', minimum: 0 }, limit: { type: 'integer', minimum: 1, maximum: 10_000 } } } },
    },
    async (request) => store.auditSince(request.query.after ?? 0, request.query.limit ?? 1000),
  );
}
