import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InterlockError } from '../../src/errors.ts';
import { normalise, type ReadPolicyFile } from '../../src/declarative/normalise.ts';
import { parseSources, problemsError, type SourceFile } from '../../src/declarative/parse.ts';

const doc = (kind: string, name: string, spec: string) => `apiVersion: interlock.dev/v1\nkind: ${kind}\nmetadata:\n  name: ${name}\n${spec ? `spec:\n${spec}` : ''}`;
const ENTRY = (name: string, extra = '') => doc('Entry', name, `  cluster: east\n  spiffeId: spiffe://east.acme.internal/ns/shop/sa/${name}\n${extra}`);
const noPolicies: ReadPolicyFile = () => {
  throw new Error('no policy files here');
};

/** The error a set of files is rejected with (parse and normalise problems together, as load.ts does). */
function rejected(files: SourceFile[], readPolicy: ReadPolicyFile = noPolicies): InterlockError {
  const { documents, problems } = parseSources(files);
  const all = [...problems, ...normalise(documents, readPolicy).problems];
  assert.ok(all.length > 0, 'expected the files to be rejected');
  return problemsError(all);
}

test('multi-document files become typed documents with defaults, each knowing its file, index and line', () => {
  const text = ['# comment', doc('Cluster', 'east', ''), '---', ENTRY('frontend'), '---', doc('Service', 'billing', '  cluster: west\n  namespace: billing\n  classification: confidential'), '---', ''].join('\n');
  const { documents, problems } = parseSources([{ path: 'config/a.yaml', text }]);
  assert.deepEqual(problems, []);
  assert.deepEqual(documents.map((d) => [d.kind, d.name, d.at.index, d.at.line]), [['Cluster', 'east', 1, 2], ['Entry', 'frontend', 2, 8], ['Service', 'billing', 3, 17]]);
  assert.deepEqual(documents[1]!.spec, { cluster: 'east', spiffeId: 'spiffe://east.acme.internal/ns/shop/sa/frontend', ttlSeconds: 3600, gateway: false });
  assert.deepEqual(documents[2]!.spec, { cluster: 'west', namespace: 'billing', classification: 'confidential', critical: false });
});

test('an unknown key in the third document is named by file, line, document and field, with a did-you-mean hint', () => {
  const text = [ENTRY('a'), ENTRY('b'), ENTRY('c', '  ttlSecond: 600\n')].join('---\n');
  const error = rejected([{ path: 'entries.yaml', text }]);
  assert.equal(error.code, 'IL_ERR_DECLARATIVE_INVALID');
  assert.equal(error.field, 'entries.yaml#3 spec.ttlSecond');
  assert.equal(error.hint, 'did you mean "ttlSeconds"?');
  assert.match(error.message, /^entries\.yaml:24 \(document 3\): spec\.ttlSecond: unknown key "ttlSecond"; nothing was applied$/);
});

test('a typo deeper down (a cluster\'s k8s block) gets its hint from the keys known there', () => {
  const error = rejected([{ path: 'c.yaml', text: doc('Cluster', 'west', '  k8s:\n    isuer: https://k8s\n    jwks: { keys: [{ kty: EC }] }\n') }]);
  assert.equal(error.field, 'c.yaml#1 spec.k8s.isuer');
  assert.equal(error.hint, 'did you mean "issuer"?');
  assert.match(error.message, /^c\.yaml:7 /);
});

test('an invalid SPIFFE ID is judged by the same parser as the API, naming the field', () => {
  const error = rejected([{ path: 'e.yaml', text: doc('Entry', 'x', '  cluster: east\n  spiffeId: spiffe://East.acme.internal/ns/a/sa/b\n') }]);
  assert.equal(error.field, 'e.yaml#1 spec.spiffeId');
  assert.match(error.message, /invalid SPIFFE ID .*trust domain characters are limited to lowercase/);
});

test('envelope mistakes: wrong apiVersion, an unknown kind, a missing spec, a bad name, YAML syntax', () => {
  const cases: Array<[string, RegExp, string]> = [
    ['apiVersion: interlock.dev/v2\nkind: Cluster\nmetadata: { name: east }\n', /apiVersion: must be interlock\.dev\/v1/, 'f.yaml#1 apiVersion'],
    ['apiVersion: interlock.dev/v1\nkind: Gateway\nmetadata: { name: east }\n', /kind: must be one of Cluster, Entry, Service, Policy, Admin/, 'f.yaml#1 kind'],
    ['apiVersion: interlock.dev/v1\nkind: Entry\nmetadata: { name: east }\n', /spec: is required/, 'f.yaml#1 spec'],
    ['apiVersion: interlock.dev/v1\nkind: Cluster\nmetadata: { name: East_1 }\n', /metadata\.name: must be a DNS label/, 'f.yaml#1 metadata.name'],
    ['apiVersion: interlock.dev/v1\nkind: Cluster\nmetadata: { name: root }\n', /"root" is reserved/, 'f.yaml#1 metadata.name'],
    ['apiVersion: interlock.dev/v1\nkind: [Cluster\n', /not valid YAML/, 'f.yaml#1 (document)'],
    ['apiVersion: interlock.dev/v1\nkind: Cluster\nkind: Entry\nmetadata: { name: east }\n', /not valid YAML: Map keys must be unique/, 'f.yaml#1 (document)'],
  ];
  for (const [text, message, field] of cases) {
    const error = rejected([{ path: 'f.yaml', text }]);
    assert.match(error.message, message, text);
    assert.equal(error.field, field, text);
  }
});

test('value checks per kind: classification, critical routes, selectors in pairs, roles, ttl range, policy source', () => {
  const cases: Array<[string, RegExp]> = [
    [doc('Service', 'billing', '  cluster: west\n  namespace: billing\n  classification: secret\n'), /spec\.classification: Invalid option/],
    [doc('Service', 'billing', '  cluster: west\n  namespace: billing\n  classification: public\n  critical: [/invoices]\n'), /spec\.critical\[0\]: must be "METHOD \/path-prefix"/],
    [ENTRY('a', '  namespace: shop\n'), /spec\.serviceAccount: namespace and serviceAccount are selectors that go together/],
    [ENTRY('a', '  ttlSeconds: 5\n'), /spec\.ttlSeconds: Too small/],
    [doc('Admin', 'carol', '  roles: [admin]\n'), /spec\.roles\[0\]: Invalid option/],
    [doc('Admin', 'carol', '  roles: [auditor, auditor]\n'), /roles must not repeat/],
    [doc('Policy', 'p', '  file: a.cedar\n  text: "permit (principal, action, resource);"\n'), /give exactly one of file or text/],
    [doc('Policy', 'p', '  text: "permit (principal, action resource);"\n'), /spec\.text: .*p\.yaml#1 spec\.text:1:/],
    [doc('Policy', 'p', '  file: missing.cedar\n'), /spec\.file: no policy files here/],
  ];
  for (const [text, message] of cases) assert.match(rejected([{ path: 'p.yaml', text }]).message, message, text);
});

test('duplicates across files are rejected naming where the first one is; every problem is counted', () => {
  const files = [
    { path: 'a.yaml', text: `${doc('Cluster', 'east', '  trustDomain: east.acme.internal\n')}---\n${ENTRY('frontend')}` },
    { path: 'b.yaml', text: `${doc('Cluster', 'east', '')}---\n${doc('Cluster', 'other', '  trustDomain: east.acme.internal\n')}---\n${ENTRY('frontend2').replace('sa/frontend2', 'sa/frontend')}` },
  ];
  const error = rejected(files);
  assert.match(error.message, /^b\.yaml:1 \(document 1\): metadata\.name: Cluster east is already declared at a\.yaml#1 \(line 1\); and 2 more: /);
  assert.match(error.message, /b\.yaml:\d+ \(document 2\): spec\.trustDomain: trust domain east\.acme\.internal is already declared at a\.yaml#1/);
  assert.match(error.message, /b\.yaml:\d+ \(document 3\): spec\.spiffeId: an entry for spiffe:\/\/east\.acme\.internal\/ns\/shop\/sa\/frontend in cluster east is already declared at a\.yaml#2/);
});

test("an entry outside its declared cluster's trust domain is caught before the server is asked", () => {
  const text = `${doc('Cluster', 'east', '  trustDomain: east.example.org\n')}---\n${ENTRY('frontend')}`;
  const error = rejected([{ path: 'a.yaml', text }]);
  assert.equal(error.field, 'a.yaml#2 spec.spiffeId');
  assert.match(error.message, /is not in trust domain east\.example\.org of cluster east/);
});

test('Policy documents: files are read relative to their YAML file; together they must not repeat a policy @id', () => {
  const read: Array<[string, string]> = [];
  const readPolicy = (yaml: string, file: string) => {
    read.push([yaml, file]);
    return '@id("same") permit (principal, action, resource);\n';
  };
  const text = `${doc('Policy', 'a', '  file: ../policies/a.cedar\n')}---\n${doc('Policy', 'b', '  file: b.cedar\n')}`;
  const error = rejected([{ path: 'config/p.yaml', text }], readPolicy);
  assert.deepEqual(read, [['config/p.yaml', '../policies/a.cedar'], ['config/p.yaml', 'b.cedar']]);
  assert.match(error.message, /duplicate policy id "same"/);
});
