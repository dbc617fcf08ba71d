import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gatewaySpiffeId, isGatewayId, parseSpiffeId, parseWorkloadSpiffeId } from '../../src/identity/spiffe-id.ts';
import { InterlockError } from '../../src/errors.ts';

// Examples follow the SPIFFE ID specification §2 and go-spiffe's test table.
const valid: Array<[string, string, string]> = [
  ['spiffe://example.org', 'example.org', ''],
  ['spiffe://example.org/workload', 'example.org', '/workload'],
  ['spiffe://east.acme.internal/ns/shop/sa/frontend', 'east.acme.internal', '/ns/shop/sa/frontend'],
  ['spiffe://trust_domain-1.example/a.b/C-D_e/9', 'trust_domain-1.example', '/a.b/C-D_e/9'],
  ['spiffe://x/...', 'x', '/...'],
];

const invalid: Array<[string, RegExp]> = [
  ['', /empty/],
  ['http://example.org/workload', /scheme/],
  ['SPIFFE://example.org/workload', /scheme/],
  ['spiffe:/example.org/workload', /scheme/],
  ['spiffe://', /trust domain is missing/],
  ['spiffe:///workload', /trust domain is missing/],
  ['spiffe://Example.org/workload', /lowercase/],
  ['spiffe://example.org:8080/workload', /port/],
  ['spiffe://user@example.org/workload', /userinfo/],
  ['spiffe://exa mple.org/workload', /lowercase/],
  ['spiffe://example.org/', /empty/],
  ['spiffe://example.org//workload', /empty/],
  ['spiffe://example.org/workload/', /empty/],
  ['spiffe://example.org/./workload', /"\." and "\.\."/],
  ['spiffe://example.org/../workload', /"\." and "\.\."/],
  ['spiffe://example.org/work%20load', /path characters/],
  ['spiffe://example.org/work load', /path characters/],
  ['spiffe://example.org/workload?x=1', /query and fragment/],
  ['spiffe://example.org/workload#frag', /query and fragment/],
  [`spiffe://${'a'.repeat(256)}/w`, /longer than 255/],
  [`spiffe://example.org/${'a'.repeat(2100)}`, /longer than 2048 bytes/],
];

for (const [input, trustDomain, path] of valid) {
  test(`parses valid SPIFFE ID ${input}`, () => {
    const id = parseSpiffeId(input);
    assert.equal(id.id, input);
    assert.equal(id.trustDomain, trustDomain);
    assert.equal(id.path, path);
  });
}

for (const [input, reason] of invalid) {
  test(`rejects invalid SPIFFE ID ${JSON.stringify(input.slice(0, 60))}`, () => {
    assert.throws(
      () => parseSpiffeId(input, '--id'),
      (error: unknown) => error instanceof InterlockError && error.code === 'IL_ERR_SPIFFE_ID_INVALID' && error.field === '--id' && reason.test(error.message),
    );
  });
}

test('a workload SVID ID needs a path; a trust-domain ID is not one', () => {
  assert.throws(() => parseWorkloadSpiffeId('spiffe://example.org'), /needs a path/);
  assert.equal(parseWorkloadSpiffeId('spiffe://example.org/w').path, '/w');
});

test('Kubernetes namespace and service account are read from /ns/<ns>/sa/<sa>', () => {
  const id = parseSpiffeId('spiffe://east.acme.internal/ns/shop/sa/frontend');
  assert.equal(id.namespace, 'shop');
  assert.equal(id.serviceAccount, 'frontend');
  assert.equal(parseSpiffeId('spiffe://east.acme.internal/ns/shop/sa/frontend/extra').namespace, undefined);
});

test('gateway IDs are recognised, workload IDs are not', () => {
  assert.equal(isGatewayId(parseSpiffeId(gatewaySpiffeId('west.acme.internal'))), true);
  assert.equal(isGatewayId(parseSpiffeId('spiffe://west.acme.internal/ns/shop/sa/interlock-gateway')), false);
});
