import assert from 'node:assert/strict';
import fc from 'fast-check';
import { parseSpiffeId, parseTrustDomain, parseWorkloadSpiffeId, spiffeIdFor } from '../../src/identity/spiffe-id.ts';
import { anyString, mutatedText } from './mutate.ts';
import { coded, fuzz } from './harness.ts';

const SPIFFE_CODES = ['IL_ERR_SPIFFE_ID_INVALID'] as const;

const tdChar = fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz0123456789._-');
const segChar = fc.constantFrom(...'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-');
const trustDomain = fc.string({ unit: tdChar, minLength: 1, maxLength: 40 });
const segment = fc.string({ unit: segChar, minLength: 1, maxLength: 20 }).filter((s) => s !== '.' && s !== '..');
/** IDs the SPIFFE ID specification calls valid, built from its grammar. */
const validId = fc.tuple(trustDomain, fc.array(segment, { maxLength: 6 })).map(([td, segs]) => `spiffe://${td}${segs.map((s) => `/${s}`).join('')}`);

/** Whatever parseSpiffeId accepts must satisfy the specification's grammar, and come back whole. */
function checkParsed(input: string) {
  return (id: { id: string; trustDomain: string; path: string; namespace?: string; serviceAccount?: string }) => {
    assert.equal(id.id, input);
    assert.equal(`spiffe://${id.trustDomain}${id.path}`, input);
    assert.match(id.trustDomain, /^[a-z0-9._-]{1,255}$/);
    for (const seg of id.path.split('/').slice(1)) {
      assert.match(seg, /^[a-zA-Z0-9._-]+$/);
      assert.ok(seg !== '.' && seg !== '..');
    }
    assert.ok(Buffer.byteLength(input) <= 2048);
    if (id.namespace !== undefined) assert.equal(id.path, `/ns/${id.namespace}/sa/${id.serviceAccount}`);
  };
}

const candidates = fc.oneof(
  anyString,
  anyString.map((s) => `spiffe://${s}`),
  validId.chain((id) => mutatedText(id)),
  validId.chain((id) => mutatedText(id, 'aZ09._-/:@?#%\u0000 \u00e9A')),
  fc.string({ maxLength: 2100, unit: fc.constantFrom('a', '/', '.') }).map((s) => `spiffe://td/${s}`),
);

fuzz('parseSpiffeId: any string is a SPIFFE ID that round-trips, or IL_ERR_SPIFFE_ID_INVALID', [candidates], async (input) => {
  await coded(() => parseSpiffeId(input), SPIFFE_CODES, checkParsed(input));
  await coded(() => parseWorkloadSpiffeId(input), SPIFFE_CODES, (id) => {
    checkParsed(input)(id);
    assert.notEqual(id.path, '', 'a workload ID has a path');
  });
}, { scale: 10, examples: [['spiffe://td/ns/a/sa/b'], ['spiffe://TD/x'], ['spiffe://td/./x'], ['spiffe://td//x'], ['spiffe://td/x/']] });

fuzz('parseSpiffeId: every ID the specification allows is accepted', [validId], async (id) => {
  checkParsed(id)(parseSpiffeId(id));
}, { scale: 5 });

fuzz('parseSpiffeId: non-string values are refused with a code, not a TypeError', [fc.anything()], async (value) => {
  await coded(() => parseSpiffeId(value as string), SPIFFE_CODES, () => assert.equal(typeof value, 'string'));
}, { scale: 2, // Regression: String(value) on `{"toString":{}}` (parsed JSON) threw a TypeError.
  examples: [[null], [undefined], [42], [{}], [JSON.parse('{"toString":{}}')]],
});

fuzz('parseTrustDomain: any string is a trust domain or IL_ERR_SPIFFE_ID_INVALID', [fc.oneof(anyString, trustDomain.chain((td) => mutatedText(td)))], async (input) => {
  await coded(() => parseTrustDomain(input), SPIFFE_CODES, (td) => {
    assert.equal(td, input);
    assert.ok(parseSpiffeId(spiffeIdFor(td, 'ns', 'sa')).trustDomain === td);
  });
}, { scale: 5 });
