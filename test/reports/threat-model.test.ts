import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { InterlockError } from '../../src/errors.ts';
import { parseThreatModel, splitItems } from '../../src/reports/threat-model.ts';

const GOOD = `# Threat model

## Assets

| asset | what it is |
|---|---|
| workload identity | SVIDs |
| policy | Cedar |

## Trust boundaries

| boundary | who |
|---|---|
| gateway↔gateway | two gateways |
| admin↔control plane | an operator |

## Threats

### T01 — Stolen SVID used elsewhere
- **Boundary:** gateway↔gateway
- **Asset:** workload identity
- **STRIDE:** Spoofing
- **Mitigations:** short-lived SVIDs; revocation pushed (about 10 ms; new handshakes refused); detectors
- **Evidence:** \`test/integration/detectors.test.ts\`; chaos \`revoked-certificate-reused\`
- **Residual risk:** a key used inside its own cluster.

### T02 — Policy bypass
- **Boundary:** admin↔control plane
- **Asset:** policy
- **STRIDE:** Elevation of privilege
- **Mitigations:** default deny
- **Evidence:** none
- **Residual risk:** none known.

## Keeping this file true

Text.
`;

function lineOf(text: string, needle: string): number {
  return text.split('\n').findIndex((l) => l.includes(needle)) + 1;
}

function rejects(text: string, expectedLine: number, message: RegExp): void {
  assert.throws(
    () => parseThreatModel(text, 'docs/threat-model.md'),
    (error: unknown) => {
      assert.ok(error instanceof InterlockError);
      assert.equal(error.code, 'IL_ERR_THREAT_MODEL_INVALID');
      assert.equal(error.field, `docs/threat-model.md:${expectedLine}`);
      assert.match(error.message, message);
      return true;
    },
  );
}

test('a well-formed threat model gives every threat with its fields, mitigations and evidence', () => {
  const model = parseThreatModel(GOOD);
  assert.deepEqual(model.assets, ['workload identity', 'policy']);
  assert.deepEqual(model.boundaries, ['gateway↔gateway', 'admin↔control plane']);
  assert.deepEqual(model.threats.map((t) => [t.id, t.title, t.line]), [
    ['T01', 'Stolen SVID used elsewhere', lineOf(GOOD, '### T01')],
    ['T02', 'Policy bypass', lineOf(GOOD, '### T02')],
  ]);
  const [t1, t2] = model.threats;
  assert.equal(t1!.stride, 'Spoofing');
  // A semicolon inside parentheses does not split a mitigation.
  assert.deepEqual(t1!.mitigations, ['short-lived SVIDs', 'revocation pushed (about 10 ms; new handshakes refused)', 'detectors']);
  assert.deepEqual(t1!.evidence, [
    { kind: 'test', name: 'test/integration/detectors.test.ts' },
    { kind: 'chaos', name: 'revoked-certificate-reused' },
  ]);
  assert.equal(t1!.residualRisk, 'a key used inside its own cluster.');
  assert.deepEqual(t2!.evidence, [], '"none" is no evidence');
});

test("the project's own docs/threat-model.md parses, and every threat names its evidence", () => {
  const model = parseThreatModel(readFileSync(new URL('../../docs/threat-model.md', import.meta.url), 'utf8'));
  assert.ok(model.threats.length >= 10);
  assert.deepEqual(new Set(model.threats.map((t) => t.id)).size, model.threats.length);
});

test('a heading with a hyphen instead of the em dash is refused at its line', () => {
  const text = GOOD.replace('### T02 — Policy bypass', '### T02 - Policy bypass');
  rejects(text, lineOf(text, '### T02'), /malformed threat heading/);
});

test('a field out of order is refused at its line', () => {
  const text = GOOD.replace('- **Asset:** workload identity\n- **STRIDE:** Spoofing', '- **STRIDE:** Spoofing\n- **Asset:** workload identity');
  rejects(text, lineOf(text, '- **STRIDE:** Spoofing'), /expected \*\*Asset:\*\* here, found \*\*STRIDE:\*\*/);
});

test('a threat cut short by the next heading is refused at its heading, naming the missing fields', () => {
  const text = GOOD.replace('- **Residual risk:** a key used inside its own cluster.\n', '');
  rejects(text, lineOf(text, '### T01'), /T01 has 5 of its 6 fields; missing \*\*Residual risk:\*\*/);
});

test('an unknown STRIDE category, boundary or asset is refused at its line', () => {
  let text = GOOD.replace('- **STRIDE:** Spoofing', '- **STRIDE:** Spoofery');
  rejects(text, lineOf(text, 'Spoofery'), /STRIDE "Spoofery" is not one of/);
  text = GOOD.replace('- **Boundary:** gateway↔gateway', '- **Boundary:** gateway-gateway');
  rejects(text, lineOf(text, 'gateway-gateway'), /boundary "gateway-gateway" is not one of the trust boundaries table/);
  text = GOOD.replace('- **Asset:** policy', '- **Asset:** policies');
  rejects(text, lineOf(text, '**Asset:** policies'), /asset "policies" is not one of the assets table/);
});

test('an evidence item that is neither a backticked file nor chaos `name` is refused at its line', () => {
  const text = GOOD.replace('chaos `revoked-certificate-reused`', 'the revocation chaos run');
  rejects(text, lineOf(text, 'the revocation chaos run'), /evidence item "the revocation chaos run"/);
});

test('a duplicate id, a seventh field and a stray line inside a threat are refused at their lines', () => {
  let text = GOOD.replace('### T02 — Policy bypass', '### T01 — Policy bypass');
  rejects(text, lineOf(text, '### T01 — Policy bypass'), /T01 appears twice \(first at line \d+\)/);
  text = GOOD.replace('- **Residual risk:** none known.', '- **Residual risk:** none known.\n- **Evidence:** `test/x.test.ts`');
  rejects(text, lineOf(text, '`test/x.test.ts`'), /T02 already has its six fields/);
  text = GOOD.replace('- **Mitigations:** default deny', 'Mitigations: default deny');
  rejects(text, lineOf(text, 'Mitigations: default deny'), /expected the \*\*Mitigations:\*\* line/);
});

test('a file without threats is refused', () => {
  rejects('# Threat model\n\nNothing yet.\n', 4, /no threats found/);
});

test('splitItems keeps backticked and parenthesised semicolons together', () => {
  assert.deepEqual(splitItems('a; b (c; d); `e;f`; '), ['a', 'b (c; d)', '`e;f`']);
});
