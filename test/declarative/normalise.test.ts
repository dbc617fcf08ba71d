import { test } from 'node:test';
import assert from 'node:assert/strict';
import { canonicalJson, digestOf } from '../../src/declarative/digest.ts';
import { checkDesiredState, normalise, policyText } from '../../src/declarative/normalise.ts';
import { parseSources } from '../../src/declarative/parse.ts';

const CLUSTERS = 'apiVersion: interlock.dev/v1\nkind: Cluster\nmetadata: { name: west }\n---\napiVersion: interlock.dev/v1\nkind: Cluster\nmetadata: { name: east }\nspec: { trustDomain: east.acme.internal }\n';
const ADMIN = 'kind: Admin\napiVersion: interlock.dev/v1\nspec: { disabled: false, roles: [operator, auditor] }\nmetadata: { name: carol }\n';
const ENTRIES = [
  'apiVersion: interlock.dev/v1\nkind: Entry\nmetadata: { name: b }\nspec: { cluster: east, spiffeId: "spiffe://east.acme.internal/b" }\n',
  'apiVersion: interlock.dev/v1\nkind: Entry\nmetadata: { name: a }\nspec: { cluster: east, spiffeId: "spiffe://east.acme.internal/a", ttlSeconds: 3600 }\n',
].join('---\n');

function desiredOf(files: Array<{ path: string; text: string }>) {
  const { documents, problems } = parseSources(files);
  assert.deepEqual(problems, []);
  const result = normalise(documents, () => '');
  assert.deepEqual(result.problems, []);
  return result.desired;
}

test('the same objects in other files, orders and spellings give the same document and digest', () => {
  const one = desiredOf([{ path: 'a.yaml', text: CLUSTERS }, { path: 'b.yaml', text: `${ADMIN}---\n${ENTRIES}` }]);
  const reordered = ENTRIES.split('---\n').reverse().join('---\n').replace(', ttlSeconds: 3600', '');
  const two = desiredOf([{ path: 'z.yaml', text: `${reordered}---\n${CLUSTERS}` }, { path: 'y.yaml', text: ADMIN.replace('[operator, auditor]', '[auditor, operator]').replace('disabled: false, ', '') }]);
  assert.deepEqual(one, two);
  assert.equal(digestOf(one), digestOf(two));
  assert.deepEqual(one.clusters.map((c) => c.name), ['east', 'west']);
  assert.deepEqual(one.entries.map((e) => e.name), ['a', 'b']);
  assert.deepEqual(one.admins, [{ name: 'carol', roles: ['auditor', 'operator'], disabled: false }]);
  assert.notEqual(digestOf(one), digestOf({ ...one, admins: [] }));
});

test('canonical JSON sorts keys at every depth, so key order never changes a digest', () => {
  assert.equal(canonicalJson({ b: 1, a: { d: [{ z: 1, y: 2 }], c: null } }), '{"a":{"c":null,"d":[{"y":2,"z":1}]},"b":1}');
  assert.equal(digestOf({ a: 1, b: 2 }), digestOf({ b: 2, a: 1 }));
});

test('one Policy document is proposed byte for byte; several are joined in name order', () => {
  assert.equal(policyText([]), null);
  assert.equal(policyText([{ name: 'x', text: 'permit (principal, action, resource);' }]), 'permit (principal, action, resource);');
  assert.equal(policyText([{ name: 'b', text: 'B;\n' }, { name: 'a', text: 'A;' }]), 'A;\n\nB;\n');
});

test('the server holds an API request to the same rules: unknown keys, duplicates, selectors, Cedar', () => {
  const base = { clusters: [], entries: [], services: [], policies: [], admins: [] };
  const entry = { name: 'a', cluster: 'east', spiffeId: 'spiffe://east.acme.internal/a', namespace: null, serviceAccount: null, ttlSeconds: 3600, gateway: false };
  const refused = (raw: unknown, field: string, message: RegExp) =>
    assert.throws(() => checkDesiredState(raw), (e: { code?: string; field?: string; message?: string }) => e.code === 'IL_ERR_DECLARATIVE_INVALID' && e.field === field && message.test(e.message ?? ''), JSON.stringify(raw));
  refused({ ...base, extra: [] }, 'desired', /unknown key "extra"/);
  refused({ ...base, entries: [{ ...entry, ttl: 1 }] }, 'desired.entries.0', /unknown key "ttl"/);
  refused({ ...base, entries: [entry, { ...entry, name: 'b' }] }, 'desired.entries.1.spiffeId', /declared twice/);
  refused({ ...base, entries: [{ ...entry, namespace: 'shop' }] }, 'desired.entries.0.namespace', /go together/);
  refused({ ...base, entries: [{ ...entry, spiffeId: 'spiffe://east/a/../b' }] }, 'desired.entries.0.spiffeId', /invalid SPIFFE ID/);
  refused({ ...base, policies: [{ name: 'p', text: 'permit (' }] }, 'desired.policies', /desired\.policies:1:/);
  const ok = checkDesiredState({ ...base, entries: [{ ...entry, name: 'z', spiffeId: 'spiffe://east.acme.internal/z' }, entry] });
  assert.deepEqual(ok.entries.map((e) => e.name), ['a', 'z'], 'sorted, whatever order it came in');
});
