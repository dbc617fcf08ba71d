import type { FastifyInstance } from 'fastify';
import { InterlockError } from '../../errors.ts';
import { SVID_TTL_MAX_MS, SVID_TTL_MIN_MS } from '../../pki/certificates.ts';
import type { AdminRole, ClusterRow } from '../../store/types.ts';
import { actorOf, roles } from '../auth.ts';
import type { ServerDeps } from '../app.ts';
import { hashSecret, newSecret } from '../secrets.ts';
import { assertClusterMayBeAdded, changeAdmin, changeEntry, configureClusterK8s, createAdmin, createEntry, deleteEntry } from '../registry-service.ts';
import { CLUSTER_NAME } from './schemas.ts';
import { K8S_BODY_SCHEMA, describeSource, k8sAttestationFrom, parseStoredSource } from '../k8s-keys.ts';

const K8S = K8S_BODY_SCHEMA;
const ROLE_NAMES: AdminRole[] = ['policy-author', 'policy-approver', 'key-custodian', 'auditor', 'operator'];
const JOIN_TOKEN_TTL = { default: 600, min: 60, max: 86_400 };

function publicCluster(row: ClusterRow) {
  return { name: row.name, trustDomain: row.trustDomain, k8sIssuer: row.k8sIssuer, k8sKeys: row.k8sJwks ? describeSource(parseStoredSource(row.k8sJwks)) : null, createdAt: row.createdAt, createdBy: row.createdBy };
}

function now(deps: ServerDeps): string {
  return deps.clock.now().toISOString();
}

/** Clusters, registration entries, join tokens and admins: the `operator`'s domain. */
export function registerRegistryRoutes(app: FastifyInstance, deps: ServerDeps): void {
  const { store } = deps;

  app.post<{ Body: { name: string; trustDomain?: string; k8s?: { issuer: string } & Record<string, unknown> } }>(
    '/v1/clusters',
    {
      config: { auth: roles('operator') },
      schema: { body: { type: 'object', additionalProperties: false, required: ['name'], properties: { name: CLUSTER_NAME, trustDomain: { type: 'string', maxLength: 255 }, k8s: K8S } } },
    },
    async (request, reply) => {
      const { name, trustDomain, k8s } = request.body;
      await assertClusterMayBeAdded(deps.rotations, name);
      const row = await deps.ca.addCluster({ name, ...(trustDomain ? { trustDomain } : {}), ...(k8s ? { k8s: k8sAttestationFrom(k8s) } : {}) }, actorOf(request));
      return reply.code(201).send(publicCluster(row));
    },
  );

  app.get('/v1/clusters', { config: { auth: roles('operator', 'auditor') } }, async () => (await store.listClusters()).map(publicCluster));

  app.put<{ Params: { name: string }; Body: { issuer: string } & Record<string, unknown> }>(
    '/v1/clusters/:name/k8s',
    { config: { auth: roles('operator') }, schema: { params: { type: 'object', properties: { name: CLUSTER_NAME } }, body: K8S } },
    async (request) => {
      const { name } = request.params;
      const changed = await store.transaction((tx) => configureClusterK8s(tx, name, k8sAttestationFrom(request.body), actorOf(request), now(deps)));
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
      const entry = await store.transaction((tx) => createEntry(tx, request.body, actorOf(request), now(deps)));
      return reply.code(201).send(entry);
    },
  );

  app.get<{ Querystring: { cluster?: string } }>(
    '/v1/entries',
    { config: { auth: roles('operator', 'auditor') }, schema: { querystring: { type: 'object', additionalProperties: false, properties: { cluster: CLUSTER_NAME } } } },
    async (request) => store.listEntries(request.query.cluster ? { cluster: request.query.cluster } : {}),
  );

  // Changing or deleting an entry re-issues its identities (registry-service.ts#reissueEntry).
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
    async (request) => store.transaction((tx) => changeEntry(tx, request.params.id, request.body, actorOf(request), now(deps))),
  );

  app.delete<{ Params: { id: string } }>('/v1/entries/:id', { config: { auth: roles('operator') } }, async (request, reply) => {
    const deleted = await store.transaction((tx) => deleteEntry(tx, request.params.id, actorOf(request), now(deps)));
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
      const { row, token } = await store.transaction((tx) => createAdmin(tx, request.body, actorOf(request), now(deps)));
      return reply.code(201).send({ name: row.name, roles: row.roles, token });
    },
  );

  // Taking roles away (or disabling) withdraws the authority behind what the admin registered
  // (registry-service.ts#changeAdmin).
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
    async (request) => store.transaction((tx) => changeAdmin(tx, request.params.name, request.body, actorOf(request), now(deps), request.caller.admin?.name)),
  );

  app.get('/v1/admins', { config: { auth: roles('operator', 'auditor') } }, async () =>
    (await store.listAdmins()).map(({ tokenHash: _hidden, ...admin }) => admin),
  );
}
