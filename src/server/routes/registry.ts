import type { FastifyInstance } from 'fastify';
import { InterlockError } from '../../errors.ts';
import { parseWorkloadSpiffeId } from '../../identity/spiffe-id.ts';
import { SVID_TTL_DEFAULT_MS, SVID_TTL_MAX_MS, SVID_TTL_MIN_MS } from '../../pki/certificates.ts';
import type { AdminRole, ClusterRow, RegistrationEntryRow, StoreOps } from '../../store/types.ts';
import { revokeSvids } from '../revoke.ts';
import { actorOf, roles } from '../auth.ts';
import type { ServerDeps } from '../app.ts';
import { newEntryId } from '../ca-service.ts';
import { hashSecret, newSecret } from '../secrets.ts';
import { CLUSTER_NAME } from './schemas.ts';

const K8S = {
  type: 'object',
  additionalProperties: false,
  required: ['jwks', 'issuer'],
  properties: { jwks: { type: 'object', required: ['keys'], properties: { keys: { type: 'array', minItems: 1 } } }, issuer: { type: 'string', minLength: 1, maxLength: 512 } },
} as const;
const ROLE_NAMES: AdminRole[] = ['policy-author', 'policy-approver', 'key-custodian', 'auditor', 'operator'];
const JOIN_TOKEN_TTL = { default: 600, min: 60, max: 86_400 };

function publicCluster(row: ClusterRow) {
  return { name: row.name, trustDomain: row.trustDomain, k8sIssuer: row.k8sIssuer, createdAt: row.createdAt, createdBy: row.createdBy };
}

function now(deps: ServerDeps): string {
  return deps.clock.now().toISOString();
}

/** Clusters, registration entries, join tokens and admins: the `operator`'s domain. */
export function registerRegistryRoutes(app: FastifyInstance, deps: ServerDeps): void {
  const { store } = deps;

  app.post<{ Body: { name: string; trustDomain?: string; k8s?: { jwks: object; issuer: string } } }>(
    '/v1/clusters',
    {
      config: { auth: roles('operator') },
      schema: { body: { type: 'object', additionalProperties: false, required: ['name'], properties: { name: CLUSTER_NAME, trustDomain: { type: 'string', maxLength: 255 }, k8s: K8S } } },
    },
    async (request, reply) => {
      const { name, trustDomain, k8s } = request.body;
      if (name === 'root') throw new InterlockError('IL_ERR_CLUSTER_NAME_INVALID', '"root" is reserved (it names the root CA in rotations)', { field: 'name' });
      const rootRotation = await deps.rotations.get('root');
      if (rootRotation && (rootRotation.step === 'published' || rootRotation.step === 'switched')) {
        // Its intermediate would hang off a root that is about to go, or miss the new one.
        throw new InterlockError('IL_ERR_ROTATION_IN_PROGRESS', `a root CA rotation is at step ${rootRotation.step}; add the cluster once it is finished`, { field: 'name', hint: 'interlock ca rotate-root --status' });
      }
      const row = await deps.ca.addCluster({ name, ...(trustDomain ? { trustDomain } : {}), ...(k8s ? { k8s: { jwks: JSON.stringify(k8s.jwks), issuer: k8s.issuer } } : {}) }, actorOf(request));
      return reply.code(201).send(publicCluster(row));
    },
  );

  app.get('/v1/clusters', { config: { auth: roles('operator', 'auditor') } }, async () => (await store.listClusters()).map(publicCluster));

  app.put<{ Params: { name: string }; Body: { jwks: object; issuer: string } }>(
    '/v1/clusters/:name/k8s',
    { config: { auth: roles('operator') }, schema: { params: { type: 'object', properties: { name: CLUSTER_NAME } }, body: K8S } },
    async (request) => {
      const { name } = request.params;
      const changed = await store.transaction(async (tx) => {
        const ok = await tx.setClusterK8s(name, { jwks: JSON.stringify(request.body.jwks), issuer: request.body.issuer });
        if (ok) await tx.appendAudit({ type: 'cluster.k8s-configured', actor: actorOf(request), data: { cluster: name, issuer: request.body.issuer } }, now(deps));
        return ok;
      });
      if (!changed) throw new InterlockError('IL_ERR_CLUSTER_UNKNOWN', `no cluster named ${name}`, { field: 'name' });
      return { cluster: name, issuer: request.body.issuer };
    },
  );

  app.post<{ Body: { cluster: string; spiffeId: string; namespace?: string; serviceAccount?: string; ttlSeconds?: number; gateway?: boolean } }>(
    '/v1/entries',
    {
      config: { auth: roles('operator') },
      schema: {
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['cluster', 'spiffeId'],
          properties: {
            cluster: CLUSTER_NAME,
            spiffeId: { type: 'string', maxLength: 2048 },
            namespace: CLUSTER_NAME,
            serviceAccount: { type: 'string', pattern: '^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$' },
            ttlSeconds: { type: 'integer', minimum: SVID_TTL_MIN_MS / 1000, maximum: SVID_TTL_MAX_MS / 1000 },
            gateway: { type: 'boolean' },
          },
        },
      },
    },
    async (request, reply) => {
      const body = request.body;
      const id = parseWorkloadSpiffeId(body.spiffeId, 'spiffeId');
      if ((body.namespace === undefined) !== (body.serviceAccount === undefined)) {
        throw new InterlockError('IL_ERR_REQUEST_INVALID', 'namespace and serviceAccount are selectors that go together', { field: body.namespace ? 'serviceAccount' : 'namespace' });
      }
      const entry: RegistrationEntryRow = {
        id: newEntryId(),
        cluster: body.cluster,
        spiffeId: id.id,
        namespace: body.namespace ?? null,
        serviceAccount: body.serviceAccount ?? null,
        ttlSeconds: body.ttlSeconds ?? SVID_TTL_DEFAULT_MS / 1000,
        gateway: body.gateway ?? false,
        createdAt: now(deps),
        createdBy: actorOf(request),
      };
      await store.transaction(async (tx) => {
        const cluster = await tx.getCluster(body.cluster);
        if (!cluster) throw new InterlockError('IL_ERR_CLUSTER_UNKNOWN', `no cluster named ${body.cluster}`, { field: 'cluster' });
        if (cluster.trustDomain !== id.trustDomain) {
          throw new InterlockError('IL_ERR_SPIFFE_ID_OUT_OF_DOMAIN', `cluster ${cluster.name} issues only in ${cluster.trustDomain}`, { field: 'spiffeId' });
        }
        await tx.insertEntry(entry);
        await tx.appendAudit({ type: 'entry.created', actor: entry.createdBy, data: { ...entry } }, entry.createdAt);
      });
      return reply.code(201).send(entry);
    },
  );

  app.get<{ Querystring: { cluster?: string } }>(
    '/v1/entries',
    { config: { auth: roles('operator', 'auditor') }, schema: { querystring: { type: 'object', additionalProperties: false, properties: { cluster: CLUSTER_NAME } } } },
    async (request) => store.listEntries(request.query.cluster ? { cluster: request.query.cluster } : {}),
  );

  // Changing or deleting an entry changes who may hold its identity: SVIDs issued under the old
  // terms are revoked and their holders asked to attest again (an identity.reissue event), so no
  // certificate outlives the registration that justified it.
  const reissue = async (tx: StoreOps, entry: RegistrationEntryRow, why: string, actor: string) => {
    const at = now(deps);
    const issued = (await tx.listSvids({ spiffeId: entry.spiffeId, cluster: entry.cluster, validAt: at, revoked: false, limit: 100_000 })).filter((s) => s.entryId === entry.id);
    const revoked = await revokeSvids(tx, issued, why, actor, at);
    await tx.appendEvent('identity.reissue', { spiffeId: entry.spiffeId, cluster: entry.cluster, reason: why }, at);
    return revoked.length;
  };

  app.patch<{ Params: { id: string }; Body: { ttlSeconds?: number; namespace?: string | null; serviceAccount?: string | null } }>(
    '/v1/entries/:id',
    {
      config: { auth: roles('operator') },
      schema: {
        body: {
          type: 'object',
          additionalProperties: false,
          minProperties: 1,
          properties: {
            ttlSeconds: { type: 'integer', minimum: SVID_TTL_MIN_MS / 1000, maximum: SVID_TTL_MAX_MS / 1000 },
            namespace: { type: ['string', 'null'], minLength: 1, maxLength: 63 },
            serviceAccount: { type: ['string', 'null'], minLength: 1, maxLength: 253 },
          },
        },
      },
    },
    async (request) =>
      store.transaction(async (tx) => {
        const before = await tx.getEntry(request.params.id);
        const entry = before && (await tx.updateEntry(before.id, request.body));
        if (!before || !entry) throw new InterlockError('IL_ERR_ENTRY_UNKNOWN', `no registration entry ${request.params.id}`, { field: 'id' });
        const reissued = await reissue(tx, entry, 'registration entry changed', actorOf(request));
        await tx.appendAudit({ type: 'entry.changed', actor: actorOf(request), data: { id: entry.id, spiffeId: entry.spiffeId, change: { ...request.body }, reissued } }, now(deps));
        return { ...entry, reissued };
      }),
  );

  app.delete<{ Params: { id: string } }>('/v1/entries/:id', { config: { auth: roles('operator') } }, async (request, reply) => {
    const deleted = await store.transaction(async (tx) => {
      const entry = await tx.getEntry(request.params.id);
      if (!entry) return false;
      const revoked = await reissue(tx, entry, 'registration entry deleted', actorOf(request));
      await tx.deleteEntry(entry.id);
      await tx.appendAudit({ type: 'entry.deleted', actor: actorOf(request), data: { id: entry.id, spiffeId: entry.spiffeId, cluster: entry.cluster, revoked } }, now(deps));
      await tx.appendEvent('entry.deleted', { id: entry.id, spiffeId: entry.spiffeId, cluster: entry.cluster }, now(deps));
      return true;
    });
    if (!deleted) throw new InterlockError('IL_ERR_ENTRY_UNKNOWN', `no registration entry ${request.params.id}`, { field: 'id' });
    return reply.code(204).send();
  });

  app.post<{ Body: { entryId: string; ttlSeconds?: number } }>(
    '/v1/join-tokens',
    {
      config: { auth: roles('operator') },
      schema: {
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['entryId'],
          properties: { entryId: { type: 'string', minLength: 1, maxLength: 64 }, ttlSeconds: { type: 'integer', minimum: JOIN_TOKEN_TTL.min, maximum: JOIN_TOKEN_TTL.max } },
        },
      },
    },
    async (request, reply) => {
      const token = newSecret('iljt');
      const createdAt = now(deps);
      const expiresAt = new Date(deps.clock.now().getTime() + (request.body.ttlSeconds ?? JOIN_TOKEN_TTL.default) * 1000).toISOString();
      const entry = await store.transaction(async (tx) => {
        const found = await tx.getEntry(request.body.entryId);
        if (!found) throw new InterlockError('IL_ERR_ENTRY_UNKNOWN', `no registration entry ${request.body.entryId}`, { field: 'entryId' });
        await tx.insertJoinToken({ tokenHash: hashSecret(token), entryId: found.id, expiresAt, usedAt: null, createdAt, createdBy: actorOf(request) });
        // The token itself is never recorded, only which entry it opens and until when.
        await tx.appendAudit({ type: 'join-token.created', actor: actorOf(request), data: { entryId: found.id, spiffeId: found.spiffeId, expiresAt } }, createdAt);
        return found;
      });
      return reply.code(201).send({ token, entryId: entry.id, spiffeId: entry.spiffeId, expiresAt });
    },
  );

  app.post<{ Body: { name: string; roles: AdminRole[] } }>(
    '/v1/admins',
    {
      config: { auth: roles('operator') },
      schema: {
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['name', 'roles'],
          properties: { name: { type: 'string', pattern: '^[a-z0-9][a-z0-9._-]{0,62}$' }, roles: { type: 'array', minItems: 1, uniqueItems: true, items: { enum: ROLE_NAMES } } },
        },
      },
    },
    async (request, reply) => {
      const token = newSecret('iladm');
      const row = { name: request.body.name, roles: request.body.roles, tokenHash: hashSecret(token), disabled: false, createdAt: now(deps), createdBy: actorOf(request) };
      await store.transaction(async (tx) => {
        await tx.insertAdmin(row);
        await tx.appendAudit({ type: 'admin.created', actor: row.createdBy, data: { name: row.name, roles: row.roles } }, row.createdAt);
      });
      return reply.code(201).send({ name: row.name, roles: row.roles, token });
    },
  );

  // Taking roles away (or disabling) withdraws the authority behind what the admin registered:
  // the identities of entries they created are re-issued (revoked, holders attest again) and
  // the join tokens they created and nobody used are deleted.
  app.patch<{ Params: { name: string }; Body: { roles?: AdminRole[]; disabled?: boolean } }>(
    '/v1/admins/:name',
    {
      config: { auth: roles('operator') },
      schema: {
        body: {
          type: 'object',
          additionalProperties: false,
          minProperties: 1,
          properties: { roles: { type: 'array', minItems: 1, uniqueItems: true, items: { enum: ROLE_NAMES } }, disabled: { type: 'boolean' } },
        },
      },
    },
    async (request) => {
      const actor = actorOf(request);
      if (request.caller.admin?.name === request.params.name) throw new InterlockError('IL_ERR_SEPARATION_OF_DUTIES', 'an admin may not change their own roles', { field: 'name' });
      return store.transaction(async (tx) => {
        const before = await tx.getAdmin(request.params.name);
        const after = before && (await tx.updateAdmin(before.name, request.body));
        if (!before || !after) throw new InterlockError('IL_ERR_NOT_FOUND', `no admin named ${request.params.name}`, { field: 'name' });
        const removed = before.roles.filter((r) => !after.roles.includes(r));
        const withdrawn = removed.length > 0 || (after.disabled && !before.disabled);
        let reissued = 0;
        let joinTokensDeleted = 0;
        if (withdrawn) {
          const by = `admin:${before.name}`;
          for (const entry of (await tx.listEntries()).filter((e) => e.createdBy === by)) reissued += await reissue(tx, entry, `admin ${before.name} lost authority`, actor);
          joinTokensDeleted = await tx.deleteUnusedJoinTokensBy(by);
        }
        await tx.appendAudit({ type: 'admin.changed', actor, data: { name: after.name, roles: after.roles, removed, disabled: after.disabled, reissued, joinTokensDeleted } }, now(deps));
        const { tokenHash: _hidden, ...visible } = after;
        return { ...visible, removedRoles: removed, reissued, joinTokensDeleted };
      });
    },
  );

  app.get('/v1/admins', { config: { auth: roles('operator', 'auditor') } }, async () =>
    (await store.listAdmins()).map(({ tokenHash: _hidden, ...admin }) => admin),
  );
}
