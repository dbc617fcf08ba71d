import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { InterlockError } from '../../src/errors.ts';
import { mergeServices, parseServicesFile } from '../../src/reports/services-file.ts';

const invalid = (pattern: RegExp) => (e: unknown) => e instanceof InterlockError && e.code === 'IL_ERR_REPORT_INPUT_INVALID' && e.field === '--services' && pattern.test(e.message);

test('a list shaped like GET /v1/services', () => {
  const text = JSON.stringify([{ cluster: 'west', name: 'billing', namespace: 'billing', classification: 'confidential', critical: true }, { cluster: 'east', name: 'catalog' }]);
  assert.deepEqual(parseServicesFile(text, 's.json'), [
    { cluster: 'west', name: 'billing', namespace: 'billing', classification: 'confidential' },
    { cluster: 'east', name: 'catalog', namespace: null, classification: null },
  ]);
});

test('a gateway configuration: the services it exports, namespaced by their upstream SPIFFE ID', () => {
  const yaml = `cluster: west
trustDomain: west.acme.internal
services:
  billing:
    upstream: https://127.0.0.1:9000
    id: spiffe://west.acme.internal/ns/billing/sa/billing
    classification: confidential
  status:
    upstream: http://127.0.0.1:9001
`;
  assert.deepEqual(parseServicesFile(yaml, 'gateway.yaml'), [
    { cluster: 'west', name: 'billing', namespace: 'billing', classification: 'confidential' },
    { cluster: 'west', name: 'status', namespace: null, classification: null },
  ]);
});

test("declarative documents: only the Service ones (the project's examples/config/west.yaml)", () => {
  const text = readFileSync(new URL('../../examples/config/west.yaml', import.meta.url), 'utf8');
  assert.deepEqual(parseServicesFile(text, 'west.yaml'), [{ cluster: 'west', name: 'billing', namespace: 'billing', classification: 'confidential' }]);
});

test('malformed files are coded errors naming the file and what is wrong', () => {
  assert.throws(() => parseServicesFile('[{"cluster":"west","name":"Billing"}]', 'a.json'), invalid(/a\.json: item 1: name must be a DNS label/));
  assert.throws(() => parseServicesFile('[{"cluster":"west","name":"billing","classification":"secret"}]', 'b.json'), invalid(/classification must be one of public, internal, confidential, restricted/));
  assert.throws(() => parseServicesFile('just: a mapping\n', 'c.yaml'), invalid(/neither a list of services, a gateway configuration, nor a declarative document/));
  assert.throws(() => parseServicesFile('[unclosed', 'd.yaml'), invalid(/not YAML or JSON/));
});

test('files that disagree on a service classification are refused; agreeing duplicates are merged', () => {
  const a = { file: 'a.yaml', services: [{ cluster: 'west', name: 'billing', namespace: null, classification: 'confidential' }] };
  const b = { file: 'b.yaml', services: [{ cluster: 'west', name: 'billing', namespace: null, classification: 'public' }] };
  assert.equal(mergeServices([a, a]).length, 1);
  assert.throws(() => mergeServices([a, b]), invalid(/west\/billing is public here but confidential in a\.yaml/));
});
