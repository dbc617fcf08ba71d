/**
 * interlock apply / diff / config rollback with the real CLI against a real
 * control plane: the example two-cluster configuration applied, drift seen,
 * bad files and server-side failures leaving nothing behind, and a rollback.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AuditRecord } from '../../src/audit/record.ts';
import type { ApiConnection } from '../../src/client/api.ts';
import { loadConfiguration } from '../../src/declarative/load.ts';
import type { DesiredState, Plan } from '../../src/declarative/types.ts';
import type { ConfigRevisionSummary, PolicyVersionRow, RegistrationEntryRow, ServiceRow } from '../../src/store/types.ts';
import { runCliAsync as runCli } from '../helpers/cli.ts';
import { startTestControlPlane, type TestControlPlane } from '../helpers/control-plane.ts';
import { startTestPostgres, type TestPostgres } from '../helpers/postgres.ts';
import { tempDir } from '../helpers/pki.ts';

const EXAMPLES = fileURLToPath(new URL('../../examples/', import.meta.url));
const FRONTEND = 'spiffe://east.acme.internal/ns/shop/sa/frontend';

/** The example configuration in a folder of its own (policy path kept), plus the two admins that run the test, so --prune leaves them alone. */
function exampleCopy(): string {
  const root = tempDir('interlock-config-');
  cpSync(join(EXAMPLES, 'config'), join(root, 'config'), { recursive: true });
  cpSync(join(EXAMPLES, 'policies', 'demo.cedar'), join(root, 'policies', 'demo.cedar'));
  writeFileSync(join(root, 'config', 'operators.yaml'), [
    'apiVersion: interlock.dev/v1', 'kind: Admin', 'metadata: { name: admin }', 'spec: { roles: [operator, key-custodian, auditor] }', '---',
    'apiVersion: interlock.dev/v1', 'kind: Admin', 'metadata: { name: ops }', 'spec: { roles: [operator, policy-author] }', '',
  ].join('\n'));
  return join(root, 'config');
}

function edit(file: string, from: string | RegExp, to: string): void {
  const text = readFileSync(file, 'utf8');
  const next = text.replace(from, to);
  assert.notEqual(next, text, `${file} did not contain ${String(from)}`);
  writeFileSync(file, next);
}

/** Two applies planned against the same base, sent at once: exactly one may win; the other is refused and leaves nothing. */
async function racingApplies(cp: TestControlPlane, as: ApiConnection): Promise<void> {
  const latest = (await cp.call<ConfigRevisionSummary[]>('GET', '/v1/config/revisions')).at(-1);
  const document = latest ? (await cp.call<{ document: DesiredState }>('GET', `/v1/config/revisions/${latest.revision}`)).document : loadConfiguration(exampleCopy()).desired;
  const withService = (name: string): DesiredState => ({ ...document, services: [...document.services, { name, cluster: 'east', namespace: 'race', classification: 'internal', critical: false }] });
  const [a, b] = [withService('race-a'), withService('race-b')];
  const plan = await cp.call<Plan>('POST', '/v1/config/plan', { desired: a }, as);
  const outcomes = await Promise.allSettled([a, b].map((desired) => cp.call('POST', '/v1/config/apply', { desired, base: plan.base }, as)));
  assert.equal(outcomes.filter((o) => o.status === 'fulfilled').length, 1, JSON.stringify(outcomes));
  const refused = outcomes.find((o) => o.status === 'rejected') as PromiseRejectedResult;
  assert.equal((refused.reason as { code?: string }).code, 'IL_ERR_DECLARATIVE_CONFLICT');
  const names = (await cp.call<ServiceRow[]>('GET', '/v1/services')).map((s) => s.name).filter((n) => n.startsWith('race-'));
  assert.equal(names.length, 1, `exactly one apply's service exists: ${names.join(', ')}`);
}

describe('declarative configuration against a running control plane', () => {
  let cp: TestControlPlane;
  let env: Record<string, string>;
  let ops: ApiConnection;
  let config: string;
  const entries = () => cp.call<RegistrationEntryRow[]>('GET', '/v1/entries');
  const services = () => cp.call<ServiceRow[]>('GET', '/v1/services');
  const revisions = () => cp.call<ConfigRevisionSummary[]>('GET', '/v1/config/revisions');
  const audit = () => cp.call<AuditRecord[]>('GET', '/v1/audit?limit=10000');

  before(async () => {
    cp = await startTestControlPlane();
    const bundleFile = join(cp.dir, 'bundle.pem');
    writeFileSync(bundleFile, cp.anonymous.bundlePem);
    // The files change the policy, so the applier needs policy-author as well as operator.
    ops = await cp.adminWith('ops', ['operator', 'policy-author']);
    env = { INTERLOCK_SERVER: cp.server.url, INTERLOCK_CA_FILE: bundleFile, INTERLOCK_TOKEN: ops.token! };
    config = exampleCopy();
  });
  after(() => cp?.close());

  test('apply creates the example world in one revision with a config.applied audit record; admin tokens go to 0600 files', async () => {
    const tokens = join(cp.dir, 'tokens');
    const result = await runCli(['apply', '-f', config, '--token-dir', tokens], { env });
    assert.equal(result.status, 0, result.stderr);
    assert.match(result.stdout, /^\+ Cluster east\n {4}trustDomain: east\.acme\.internal/m);
    assert.match(result.stdout, /^\+ Service west\/billing\n(?: {4}.*\n)*? {4}critical: \[POST \/invoices\]/m);
    assert.match(result.stdout, /^~ Policy demo\n {4}version: none → 1 \(proposed\)/m);
    assert.match(result.stdout, /apply proposes version 1; it takes effect only when another admin with policy-approver approves and activates it/);
    assert.match(result.stdout, /^applied: revision 1 \(sha256:/m);
    assert.doesNotMatch(result.stdout, /iladm_/, 'tokens were written to files, not printed');

    assert.deepEqual((await cp.call<Array<{ name: string; trustDomain: string; k8sIssuer: string | null }>>('GET', '/v1/clusters')).map((c) => [c.name, c.trustDomain, c.k8sIssuer]), [
      ['east', 'east.acme.internal', null],
      ['west', 'west.acme.internal', 'https://kubernetes.default.svc.cluster.local'],
    ]);
    assert.equal((await entries()).length, 6);
    assert.deepEqual((await services()).map((s) => [s.cluster, s.name, s.classification, s.critical]), [['east', 'catalog', 'internal', false], ['west', 'billing', 'confidential', ['POST /invoices']]]);
    const policies = await cp.call<PolicyVersionRow[]>('GET', '/v1/policies', undefined, ops);
    assert.deepEqual(policies.map((p) => [p.version, p.status, p.proposedBy, p.text]), [[1, 'proposed', 'admin:ops', readFileSync(join(EXAMPLES, 'policies', 'demo.cedar'), 'utf8')]]);
    // alice was created with her own token, which works for her role.
    const alice = { ...cp.anonymous, token: readFileSync(join(tokens, 'alice.token'), 'utf8').trim() };
    assert.equal((await cp.call<PolicyVersionRow[]>('GET', '/v1/policies', undefined, alice)).length, 1);

    const [revision] = await revisions();
    assert.deepEqual([revision?.revision, revision?.action, revision?.actor], [1, 'apply', 'admin:ops']);
    const applied = (await audit()).filter((r) => r.type === 'config.applied');
    assert.equal(applied.length, 1);
    assert.equal(applied[0]!.actor, 'admin:ops');
    assert.deepEqual([applied[0]!.data.revision, applied[0]!.data.digest], [1, revision!.digest]);
    assert.ok((await audit()).some((r) => r.type === 'entry.created' && r.actor === 'admin:ops' && r.data.spiffeId === FRONTEND), 'each change keeps its own audit record');
  });

  test('diff right after apply is in sync (exit 0); an edited file is drift (exit 3) naming the object and field; apply again is a no-op', async () => {
    const clean = await runCli(['diff', '-f', config], { env });
    assert.equal(clean.status, 0, clean.stdout + clean.stderr);
    assert.match(clean.stdout, /^in sync: the control plane matches the files \(against revision 1\)/m);
    assert.match(clean.stdout, /the Policy matches version 1, which is proposed/);

    const copy = join(tempDir('interlock-drift-'), 'config');
    cpSync(config, copy, { recursive: true });
    cpSync(join(config, '..', 'policies'), join(copy, '..', 'policies'), { recursive: true });
    edit(join(copy, 'east.yaml'), 'ttlSeconds: 3600', 'ttlSeconds: 600');
    const drift = await runCli(['diff', '-f', copy], { env });
    assert.equal(drift.status, 3, drift.stderr);
    assert.match(drift.stdout, new RegExp(`^~ Entry east/${FRONTEND} \\(east/frontend\\)\\n {4}ttlSeconds: 3600 → 600`, 'm'));
    const json = await runCli(['diff', '-f', copy, '-o', 'json'], { env });
    assert.equal(json.status, 3);
    const parsed = JSON.parse(json.stdout) as { inSync: boolean; plan: Plan };
    assert.equal(parsed.inSync, false);
    assert.deepEqual(parsed.plan.changes.map((c) => [c.action, c.kind, c.key, c.fields]), [['update', 'Entry', `east/${FRONTEND}`, [{ field: 'ttlSeconds', before: 3600, after: 600 }]]]);

    const again = await runCli(['apply', '-f', config], { env });
    assert.equal(again.status, 0, again.stderr);
    assert.match(again.stdout, /nothing to apply/);
    assert.equal((await revisions()).length, 1, 'no revision for an apply that changes nothing');
  });

  test('a bad file is rejected whole with a coded error naming file, document and field; nothing reaches the server', async () => {
    const copy = join(tempDir('interlock-bad-'), 'config');
    cpSync(config, copy, { recursive: true });
    cpSync(join(config, '..', 'policies'), join(copy, '..', 'policies'), { recursive: true });
    // A new cluster that would be valid, and a typo in the third document of east.yaml.
    writeFileSync(join(copy, 'north.yaml'), 'apiVersion: interlock.dev/v1\nkind: Cluster\nmetadata: { name: north }\n');
    edit(join(copy, 'east.yaml'), '  ttlSeconds: 3600', '  ttlSecond: 3600');
    const records = (await audit()).length;
    const typo = await runCli(['apply', '-f', copy], { env });
    assert.equal(typo.status, 2);
    assert.match(typo.stderr, /^interlock: error IL_ERR_DECLARATIVE_INVALID: .*east\.yaml:31 \(document 3\): spec\.ttlSecond: unknown key "ttlSecond"; nothing was applied \[.*east\.yaml#3 spec\.ttlSecond\] \(hint: did you mean "ttlSeconds"\?\)/);

    edit(join(copy, 'east.yaml'), '  ttlSecond: 3600', '  ttlSeconds: 3600');
    edit(join(copy, 'west.yaml'), 'spiffe://west.acme.internal/ns/billing/sa/billing', 'spiffe://west.acme.internal/ns/billing//billing');
    const badId = await runCli(['diff', '-f', copy], { env });
    assert.equal(badId.status, 2);
    assert.match(badId.stderr, /IL_ERR_DECLARATIVE_INVALID: .*west\.yaml:\d+ \(document 2\): spec\.spiffeId: invalid SPIFFE ID .*path segments must not be empty.*\[.*west\.yaml#2 spec\.spiffeId\]/);

    assert.equal((await cp.call<unknown[]>('GET', '/v1/clusters')).length, 2, 'north was not added');
    assert.equal((await revisions()).length, 1);
    assert.equal((await audit()).length, records, 'the server was never asked');
  });

  test('a change that fails on the server undoes every change before it: no cluster, CA, entry, service, admin, revision or config.applied', async () => {
    const copy = join(tempDir('interlock-ghost-'), 'config');
    cpSync(config, copy, { recursive: true });
    cpSync(join(config, '..', 'policies'), join(copy, '..', 'policies'), { recursive: true });
    writeFileSync(join(copy, 'north.yaml'), [
      'apiVersion: interlock.dev/v1', 'kind: Cluster', 'metadata: { name: north }', '---',
      'apiVersion: interlock.dev/v1', 'kind: Entry', 'metadata: { name: api }', 'spec: { cluster: north, spiffeId: "spiffe://north.acme.internal/ns/api/sa/api" }', '---',
      'apiVersion: interlock.dev/v1', 'kind: Service', 'metadata: { name: api }', 'spec: { cluster: north, namespace: api, classification: restricted }', '---',
      'apiVersion: interlock.dev/v1', 'kind: Admin', 'metadata: { name: carol }', 'spec: { roles: [auditor] }', '---',
      // The last entry to be created names a cluster that exists nowhere: only the store can tell.
      'apiVersion: interlock.dev/v1', 'kind: Entry', 'metadata: { name: lost }', 'spec: { cluster: zz-ghost, spiffeId: "spiffe://zz-ghost.acme.internal/ns/x/sa/x" }', '',
    ].join('\n'));
    const before = { entries: (await entries()).length, audit: (await audit()).length };
    const result = await runCli(['apply', '-f', copy], { env });
    assert.equal(result.status, 2, result.stdout);
    assert.match(result.stdout, /^\+ Cluster north/m, 'the plan was shown');
    assert.match(result.stderr, /^interlock: error IL_ERR_CLUSTER_UNKNOWN: Entry zz-ghost\/lost: no cluster named zz-ghost; nothing was applied \(.*north\.yaml:\d+, document 5\) \[.*north\.yaml#5 spec\.cluster\]/);

    assert.deepEqual((await cp.call<Array<{ name: string }>>('GET', '/v1/clusters')).map((c) => c.name), ['east', 'west']);
    assert.equal((await entries()).length, before.entries);
    assert.ok(!(await services()).some((s) => s.cluster === 'north'));
    assert.ok(!(await cp.call<Array<{ name: string }>>('GET', '/v1/admins')).some((a) => a.name === 'carol'));
    assert.ok(!(await cp.server.store.listAuthorities({ cluster: 'north' })).length, "north's CA was signed but never stored");
    assert.equal((await revisions()).length, 1);
    const since = (await audit()).slice(before.audit);
    assert.deepEqual([...new Set(since.map((r) => r.type))], ['admin.request'], 'only the refused requests themselves are recorded');
  });

  test('a change made between plan and apply is refused with IL_ERR_DECLARATIVE_CONFLICT, and nothing is applied', async () => {
    const desired = { clusters: [], entries: [], services: [{ name: 'search', cluster: 'east', namespace: 'shop', classification: 'public', critical: false }], policies: [], admins: [] };
    const plan = await cp.call<Plan>('POST', '/v1/config/plan', { desired }, ops);
    await cp.call('POST', '/v1/entries', { cluster: 'east', spiffeId: 'spiffe://east.acme.internal/ns/shop/sa/cart' }, ops);
    await assert.rejects(cp.call('POST', '/v1/config/apply', { desired, base: plan.base }, ops), (e: { code?: string; message?: string }) => e.code === 'IL_ERR_DECLARATIVE_CONFLICT' && /registry changed/.test(e.message ?? ''));
    assert.ok(!(await services()).some((s) => s.name === 'search'));
    const cart = (await entries()).find((e) => e.spiffeId.endsWith('/sa/cart'))!;
    await cp.call('DELETE', `/v1/entries/${cart.id}`, undefined, ops);
  });

  test('apply --prune deletes what the files dropped (never a cluster); config rollback 1 --prune restores revision 1', async () => {
    await cp.call('POST', '/v1/clusters', { name: 'south' }, ops);
    edit(join(config, 'east.yaml'), 'ttlSeconds: 3600', 'ttlSeconds: 600');
    edit(join(config, 'east.yaml'), /---\napiVersion: interlock\.dev\/v1\nkind: Service[\s\S]*$/, '');
    const pruned = await runCli(['apply', '-f', config, '--prune'], { env });
    assert.equal(pruned.status, 0, pruned.stderr);
    assert.match(pruned.stdout, /^- Service east\/catalog\n/m);
    assert.match(pruned.stdout, /^! Cluster south: not in the files; clusters are never deleted by apply/m);
    assert.match(pruned.stdout, /^applied: revision 2/m);
    assert.equal((await entries()).find((e) => e.spiffeId === FRONTEND)!.ttlSeconds, 600);
    assert.ok(!(await services()).some((s) => s.name === 'catalog'));
    assert.ok((await cp.call<Array<{ name: string }>>('GET', '/v1/clusters')).some((c) => c.name === 'south'));

    const list = await runCli(['config', 'revisions'], { env });
    assert.match(list.stdout, /^2 +apply +admin:ops/m);
    const rolled = await runCli(['config', 'rollback', '1', '--prune'], { env });
    assert.equal(rolled.status, 0, rolled.stderr);
    assert.match(rolled.stdout, /^\+ Service east\/catalog/m);
    assert.match(rolled.stdout, /ttlSeconds: 600 → 3600/);
    assert.match(rolled.stdout, /^rolled back: revision 3 applies revision 1's configuration again/m);
    assert.equal((await entries()).find((e) => e.spiffeId === FRONTEND)!.ttlSeconds, 3600);
    assert.deepEqual((await services()).map((s) => s.name), ['catalog', 'billing']);
    const [one, , three] = await revisions();
    assert.deepEqual([three?.action, three?.sourceRevision, three?.digest], ['rollback', 1, one?.digest]);
    assert.equal((await audit()).filter((r) => r.type === 'config.rolled-back' && r.data.sourceRevision === 1).length, 1);
    // The control plane is back to what revision 1 declared (south stays, as drift).
    const fresh = exampleCopy();
    const diff = await runCli(['diff', '-f', fresh], { env });
    assert.match(diff.stdout, /^! Cluster south/m);
    assert.doesNotMatch(diff.stdout, /^[+~-] /m);
  });

  test('roles: an auditor may diff but not apply; applying a policy change needs policy-author too', async () => {
    const auditor = await cp.adminWith('audra', ['auditor']);
    const operator = await cp.adminWith('otto', ['operator']);
    const fresh = exampleCopy();
    writeFileSync(join(fresh, '..', 'policies', 'demo.cedar'), '@id("nothing") forbid (principal, action, resource);\n');
    const diff = await runCli(['diff', '-f', fresh], { env: { ...env, INTERLOCK_TOKEN: auditor.token! } });
    assert.equal(diff.status, 3, diff.stderr);
    assert.match(diff.stdout, /^~ Policy demo\n {4}version: 1 \(proposed\) → 2 \(proposed\)\n {4}lines: \+1 -15/m);
    const denied = await runCli(['apply', '-f', fresh], { env: { ...env, INTERLOCK_TOKEN: auditor.token! } });
    assert.equal(denied.status, 2);
    assert.match(denied.stderr, /IL_ERR_ROLE_FORBIDDEN: audra has roles \[auditor\]; this needs one of \[operator\]/);
    const noAuthor = await runCli(['apply', '-f', fresh], { env: { ...env, INTERLOCK_TOKEN: operator.token! } });
    assert.equal(noAuthor.status, 2);
    assert.match(noAuthor.stderr, /IL_ERR_ROLE_FORBIDDEN: the files change the policy/);
    assert.equal((await revisions()).length, 3);
    assert.ok(!existsSync(join(fresh, 'tokens')));
  });

  test('two applies racing from the same plan: one wins, the other is refused with IL_ERR_DECLARATIVE_CONFLICT', () => racingApplies(cp, ops));
});

describe('declarative apply on PostgreSQL: the same all-or-nothing transaction', () => {
  let postgres: TestPostgres;
  let cp: TestControlPlane;
  let ops: ApiConnection;

  before(async () => {
    postgres = await startTestPostgres();
    cp = await startTestControlPlane({ storeSpec: postgres.url });
    ops = await cp.adminWith('ops', ['operator', 'policy-author']);
  });
  after(async () => {
    await cp?.close();
    await postgres?.stop();
  });

  const apply = async (desired: DesiredState, prune = false) => {
    const plan = await cp.call<Plan>('POST', '/v1/config/plan', { desired, prune }, ops);
    return cp.call<{ revision: ConfigRevisionSummary | null }>('POST', '/v1/config/apply', { desired, base: plan.base, prune }, ops);
  };

  test('the example applies as revision 1; a failing last entry leaves nothing; rollback restores', async () => {
    const { desired } = loadConfiguration(exampleCopy());
    assert.equal((await apply(desired)).revision?.revision, 1);
    assert.equal((await cp.call<ServiceRow[]>('GET', '/v1/services')).length, 2);

    const broken: DesiredState = {
      ...desired,
      clusters: [...desired.clusters, { name: 'north', trustDomain: null, k8s: null }],
      services: [...desired.services, { name: 'api', cluster: 'north', namespace: 'api', classification: 'restricted', critical: true }],
      entries: [...desired.entries.map((e) => (e.name === 'frontend' ? { ...e, ttlSeconds: 900 } : e)), { name: 'lost', cluster: 'zz-ghost', spiffeId: 'spiffe://zz-ghost.acme.internal/x', namespace: null, serviceAccount: null, ttlSeconds: 600, gateway: false }],
    };
    await assert.rejects(apply(broken), (e: { code?: string; field?: string }) => e.code === 'IL_ERR_CLUSTER_UNKNOWN' && e.field === 'Entry zz-ghost/lost spec.cluster');
    assert.deepEqual((await cp.call<Array<{ name: string }>>('GET', '/v1/clusters')).map((c) => c.name), ['east', 'west']);
    assert.equal((await cp.call<RegistrationEntryRow[]>('GET', '/v1/entries')).find((e) => e.spiffeId === FRONTEND)!.ttlSeconds, 3600);
    assert.equal((await cp.call<ServiceRow[]>('GET', '/v1/services')).length, 2);

    const changed = { ...desired, entries: desired.entries.map((e) => (e.name === 'frontend' ? { ...e, ttlSeconds: 900 } : e)) };
    assert.equal((await apply(changed)).revision?.revision, 2);
    const stored = await cp.call<{ document: unknown }>('GET', '/v1/config/revisions/1');
    assert.deepEqual(stored.document, desired, 'the revision keeps the normalised document exactly');
    const plan = await cp.call<Plan>('POST', '/v1/config/plan', { desired: stored.document }, ops);
    const rolled = await cp.call<{ revision: ConfigRevisionSummary }>('POST', '/v1/config/revisions/1/rollback', { base: plan.base }, ops);
    assert.deepEqual([rolled.revision.revision, rolled.revision.action, rolled.revision.sourceRevision], [3, 'rollback', 1]);
    assert.equal((await cp.call<RegistrationEntryRow[]>('GET', '/v1/entries')).find((e) => e.spiffeId === FRONTEND)!.ttlSeconds, 3600);
  });

  test('two applies racing from the same plan on one database: one wins, the other is refused', () => racingApplies(cp, ops));
});
