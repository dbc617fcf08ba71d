import { test } from 'node:test';
import assert from 'node:assert/strict';
import { planChanges } from '../../src/declarative/diff.ts';
import { renderPlan } from '../../src/declarative/render.ts';
import type { DesiredState, ObservedState, Plan } from '../../src/declarative/types.ts';

const FRONTEND = 'spiffe://east.acme.internal/ns/shop/sa/frontend';
const POLICY = '@id("p") permit (principal, action, resource);\n';
const JWKS = { keys: [{ kty: 'EC', crv: 'P-256', x: 'x', y: 'y' }] };

const desired = (over: Partial<DesiredState> = {}): DesiredState => ({
  clusters: [{ name: 'east', trustDomain: null, k8s: null }],
  entries: [{ name: 'frontend', cluster: 'east', spiffeId: FRONTEND, namespace: 'shop', serviceAccount: 'frontend', ttlSeconds: 3600, gateway: false }],
  services: [{ name: 'catalog', cluster: 'east', namespace: 'shop', classification: 'internal', critical: false }],
  policies: [{ name: 'demo', text: POLICY }],
  admins: [{ name: 'alice', roles: ['policy-author'], disabled: false }],
  ...over,
});

/** The server state that desired() describes exactly. */
const observed = (over: Partial<ObservedState> = {}): ObservedState => ({
  organizationDomain: 'acme.internal',
  clusters: [{ name: 'east', trustDomain: 'east.acme.internal', k8s: null }],
  entries: [{ id: 'e1', cluster: 'east', spiffeId: FRONTEND, namespace: 'shop', serviceAccount: 'frontend', ttlSeconds: 3600, gateway: false }],
  services: [{ name: 'catalog', cluster: 'east', namespace: 'shop', classification: 'internal', critical: false }],
  admins: [{ name: 'alice', roles: ['policy-author'], disabled: false }],
  policy: { version: 1, status: 'active', text: POLICY },
  ...over,
});

const summary = (d: DesiredState, o: ObservedState, prune = false, self?: string) =>
  planChanges(d, o, { prune, ...(self ? { self } : {}) }).changes.map((c) => `${c.action} ${c.kind} ${c.key}${c.fields.length ? ` ${c.fields.map((f) => f.field).join(',')}` : ''}`);

test('files that describe the server exactly: no changes at all', () => {
  assert.deepEqual(planChanges(desired(), observed(), { prune: true }), { changes: [], notes: [] });
});

test('an empty server: everything is created, the policy proposed as version 1, in apply order', () => {
  const empty = observed({ clusters: [], entries: [], services: [], admins: [], policy: null });
  assert.deepEqual(summary(desired(), empty), [
    'create Cluster east trustDomain,k8s',
    `create Entry east/${FRONTEND} namespace,serviceAccount,ttlSeconds,gateway`,
    'create Service east/catalog namespace,classification,critical',
    'create Admin alice roles,disabled',
    'propose Policy policy version,lines',
  ]);
  const cluster = planChanges(desired(), empty, { prune: false }).changes[0]!;
  assert.deepEqual(cluster.fields[0], { field: 'trustDomain', after: 'east.acme.internal' }, 'the default trust domain is shown');
});

test('changed fields are named with before and after; a gateway flag change replaces the entry', () => {
  const d = desired({
    entries: [{ ...desired().entries[0]!, ttlSeconds: 600, serviceAccount: 'web' }],
    services: [{ ...desired().services[0]!, classification: 'restricted', critical: ['POST /orders'] }],
    clusters: [{ name: 'east', trustDomain: 'east.acme.internal', k8s: { issuer: 'https://k8s', jwks: JWKS } }],
  });
  const { changes } = planChanges(d, observed(), { prune: false });
  assert.deepEqual(changes.find((c) => c.kind === 'Entry')!.fields, [{ field: 'serviceAccount', before: 'frontend', after: 'web' }, { field: 'ttlSeconds', before: 3600, after: 600 }]);
  assert.equal(changes.find((c) => c.kind === 'Entry')!.action, 'update');
  assert.deepEqual(changes.find((c) => c.kind === 'Service')!.fields, [{ field: 'classification', before: 'internal', after: 'restricted' }, { field: 'critical', before: false, after: ['POST /orders'] }]);
  assert.match(JSON.stringify(changes.find((c) => c.kind === 'Cluster')!.fields), /"before":null,"after":\{"issuer":"https:\/\/k8s","jwks":"1 key, sha256:/);
  const gateway = planChanges(desired({ entries: [{ ...desired().entries[0]!, gateway: true }] }), observed(), { prune: false }).changes[0]!;
  assert.equal(gateway.action, 'replace');
});

test('what the files leave out is drift, deleted only with prune; clusters and policy versions never; admins disabled, not deleted', () => {
  const extra = observed({
    clusters: [...observed().clusters, { name: 'west', trustDomain: 'west.acme.internal', k8s: null }],
    entries: [...observed().entries, { id: 'e2', cluster: 'east', spiffeId: 'spiffe://east.acme.internal/ns/x/sa/x', namespace: null, serviceAccount: null, ttlSeconds: 60, gateway: false }],
    services: [...observed().services, { name: 'search', cluster: 'east', namespace: 'shop', classification: 'public', critical: true }],
    admins: [...observed().admins, { name: 'carol', roles: ['auditor'], disabled: false }, { name: 'dave', roles: ['auditor'], disabled: true }, { name: 'me', roles: ['operator'], disabled: false }],
  });
  assert.deepEqual(summary(desired(), extra, false), [
    'drift Cluster west', 'drift Entry east/spiffe://east.acme.internal/ns/x/sa/x', 'drift Service east/search', 'drift Admin carol', 'drift Admin me',
  ]);
  assert.deepEqual(summary(desired(), extra, true, 'me'), [
    'drift Cluster west', 'delete Entry east/spiffe://east.acme.internal/ns/x/sa/x', 'delete Service east/search', 'delete Admin carol disabled', 'drift Admin me',
  ]);
  const noPolicy = planChanges(desired({ policies: [] }), observed(), { prune: true }).changes;
  assert.deepEqual(noPolicy.map((c) => [c.action, c.kind]), [['drift', 'Policy']], 'a policy the files do not manage is drift, never deleted');
});

test('refused in the plan: a cluster whose trust domain would change, and an admin changing their own roles', () => {
  assert.throws(() => planChanges(desired({ clusters: [{ name: 'east', trustDomain: 'east.example.org', k8s: null }] }), observed(), { prune: false }),
    (e: { code?: string; field?: string; hint?: string }) => e.code === 'IL_ERR_DECLARATIVE_INVALID' && e.field === 'Cluster east spec.trustDomain' && e.hint === 'set spec.trustDomain: east.acme.internal');
  const demoted = desired({ admins: [{ name: 'alice', roles: ['auditor'], disabled: false }] });
  assert.throws(() => planChanges(demoted, observed(), { prune: false, self: 'alice' }), (e: { code?: string; field?: string }) => e.code === 'IL_ERR_SEPARATION_OF_DUTIES' && e.field === 'Admin alice spec.roles');
  const change = planChanges(demoted, observed(), { prune: false, self: 'bob' }).changes[0]!;
  assert.deepEqual([change.action, change.fields], ['update', [{ field: 'roles', before: ['policy-author'], after: ['auditor'] }]]);
  assert.match(change.note ?? '', /authority withdrawn/);
});

test('the policy: proposed when the text differs from the newest version; a match awaiting approval is a note, not a change', () => {
  const changed = planChanges(desired({ policies: [{ name: 'demo', text: `${POLICY}@id("q") forbid (principal, action, resource);\n` }] }), observed(), { prune: false }).changes;
  assert.deepEqual(changed.map((c) => [c.action, c.fields]), [['propose', [{ field: 'version', before: '1 (active)', after: '2 (proposed)' }, { field: 'lines', after: '+1 -0' }]]]);
  assert.match(changed[0]!.note!, /another admin with policy-approver approves and activates it/);
  const pending = planChanges(desired(), observed({ policy: { version: 4, status: 'proposed', text: POLICY } }), { prune: false });
  assert.deepEqual(pending.changes, []);
  assert.deepEqual(pending.notes, ['the Policy matches version 4, which is proposed: it takes effect once approved and activated by a policy-approver']);
});

test('rendering: + create, ~ update, - delete, ! drift, with the fields under each and a summary', () => {
  const o = observed({ services: [{ name: 'search', cluster: 'east', namespace: 'shop', classification: 'public', critical: true }], clusters: [...observed().clusters, { name: 'west', trustDomain: 'west.acme.internal', k8s: null }] });
  const d = desired({ entries: [{ ...desired().entries[0]!, ttlSeconds: 600 }] });
  const { changes, notes } = planChanges(d, o, { prune: true });
  const plan: Plan = { changes, notes, desiredDigest: 'sha256:x', base: { revision: 7, stateDigest: 'sha256:y' } };
  assert.equal(renderPlan(plan), [
    '! Cluster west: not in the files; clusters are never deleted by apply',
    `~ Entry east/${FRONTEND} (east/frontend)`,
    '    ttlSeconds: 3600 → 600',
    '    (its SVIDs are revoked and the holders attest again)',
    '+ Service east/catalog',
    '    namespace: shop',
    '    classification: internal',
    '    critical: false',
    '- Service east/search',
    '    (not in the files)',
    '',
    'plan: 1 to create, 1 to update, 0 to replace, 1 to delete, 0 policy versions to propose; 1 drifted (left alone) (against revision 7)',
  ].join('\n'));
  assert.equal(renderPlan({ ...plan, changes: [] }), 'in sync: the control plane matches the files (against revision 7)');
});
