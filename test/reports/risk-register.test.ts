import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { InterlockError } from '../../src/errors.ts';
import { buildRiskRegister, type ChaosResult } from '../../src/reports/risk-register.ts';
import { parseThreatModel } from '../../src/reports/threat-model.ts';
import { TEST_RESULTS_FORMAT, type TestFileResult } from '../../src/reports/test-results.ts';
import { fileExistsUnder, readChaosResults } from '../../src/reports/evidence-sources.ts';
import { renderReport } from '../../src/reports/render.ts';
import { tempDir } from '../helpers/pki.ts';

const threat = (id: string, evidence: string) => `### ${id} — Threat ${id}
- **Boundary:** gateway↔gateway
- **Asset:** policy
- **STRIDE:** Tampering
- **Mitigations:** one; two
- **Evidence:** ${evidence}
- **Residual risk:** some.
`;

const MODEL = parseThreatModel(
  [
    threat('T01', '`test/a.test.ts`; chaos `link-cut`'),
    threat('T02', '`test/b.test.ts`'),
    threat('T03', '`test/c.test.ts`; chaos `clock-skew`'),
    threat('T04', 'none'),
    threat('T05', '`test/gone.test.ts`'),
  ].join('\n'),
);

const ran = (passed: number, failed: number, extra: Partial<TestFileResult> = {}): TestFileResult => ({ passed, failed, skipped: 0, todo: 0, fileError: null, failures: failed ? ['breaks: expected 1'] : [], finishedAt: '2026-01-01T00:00:00.000Z', ...extra });

function register(chaos: Map<string, ChaosResult>) {
  return buildRiskRegister({
    model: MODEL,
    testResults: { format: TEST_RESULTS_FORMAT, files: { 'test/a.test.ts': ran(3, 0), 'test/b.test.ts': ran(2, 1) } },
    chaos,
    testFileExists: (path) => ['test/a.test.ts', 'test/b.test.ts', 'test/c.test.ts'].includes(path),
    sources: { threatModel: 'docs/threat-model.md', testResults: 'test-results/results.json', chaosResults: 'test-results/chaos' },
    generatedAt: '2026-01-02T00:00:00.000Z',
  });
}

test('each evidence item gets its last result; a threat is proven only when all of its evidence last passed', () => {
  const report = register(new Map([['link-cut', { passed: true, finishedAt: '2026-01-01T01:00:00Z', detail: null }]]));
  const byId = new Map(report.threats.map((t) => [t.id, t]));
  assert.equal(byId.get('T01')!.status, 'proven');
  assert.deepEqual(byId.get('T01')!.evidence.map((e) => [e.name, e.status, e.lastRun]), [
    ['test/a.test.ts', 'passed', '2026-01-01T00:00:00.000Z'],
    ['link-cut', 'passed', '2026-01-01T01:00:00Z'],
  ]);
  assert.equal(byId.get('T02')!.status, 'flagged');
  assert.deepEqual(byId.get('T02')!.flags, ['evidence failed: test/b.test.ts']);
  assert.match(byId.get('T02')!.evidence[0]!.detail!, /2 passed, 1 failed: breaks: expected 1/);
  assert.deepEqual(byId.get('T03')!.flags, ['evidence never ran: test/c.test.ts, chaos clock-skew']);
  assert.match(byId.get('T04')!.flags[0]!, /^no evidence/);
  assert.deepEqual(byId.get('T05')!.flags, ['evidence missing: test/gone.test.ts']);
  assert.deepEqual(report.summary, { threats: 5, proven: 1, flagged: 4, withoutEvidence: 1, withFailedEvidence: 1, withEvidenceNotRun: 1, withMissingEvidence: 1 });
});

test('a failed chaos experiment flags its threat even when every test passed', () => {
  const report = register(new Map([['link-cut', { passed: false, finishedAt: null, detail: 'calls failed during the cut' }]]));
  const t1 = report.threats.find((t) => t.id === 'T01')!;
  assert.equal(t1.status, 'flagged');
  assert.deepEqual(t1.flags, ['evidence failed: chaos link-cut']);
  assert.equal(t1.evidence[1]!.detail, 'calls failed during the cut');
});

test('a test file that failed as a whole, or ran no test, is not evidence that passed', () => {
  const report = buildRiskRegister({
    model: MODEL,
    testResults: { format: TEST_RESULTS_FORMAT, files: { 'test/a.test.ts': ran(0, 0, { fileError: 'test failed' }), 'test/b.test.ts': ran(0, 0) } },
    chaos: new Map(),
    testFileExists: () => true,
    sources: { threatModel: 'x', testResults: 'y', chaosResults: null },
    generatedAt: '2026-01-02T00:00:00.000Z',
  });
  assert.deepEqual(report.threats.slice(0, 2).map((t) => t.evidence[0]!.status), ['failed', 'failed']);
  assert.match(report.threats[1]!.evidence[0]!.detail!, /ran no test/);
});

test('the Markdown register has a summary row per threat and each flag spelled out', () => {
  const markdown = renderReport(register(new Map()), 'markdown');
  assert.match(markdown, /^\| T02 \| Threat T02 \| gateway↔gateway \| Tampering \| 0\/1 \| \*\*flagged\*\* \|$/m);
  assert.match(markdown, /^- \*\*Flag:\*\* evidence missing: test\/gone\.test\.ts$/m);
  assert.match(markdown, /^\| test\/a\.test\.ts \| passed \| 2026-01-01T00:00:00\.000Z \| 3 passed, 0 failed \|$/m);
});

test('chaos results are read from <dir>/<name>.json; a missing folder or file is "not run", a malformed one a coded error', () => {
  const dir = tempDir('interlock-chaos-');
  mkdirSync(join(dir, 'chaos'));
  writeFileSync(join(dir, 'chaos', 'link-cut.json'), JSON.stringify({ experiment: 'link-cut', passed: true, finishedAt: '2026-01-01T00:00:00Z' }));
  writeFileSync(join(dir, 'chaos', 'clock-skew.json'), JSON.stringify({ passed: 'yes' }));
  assert.equal(readChaosResults(join(dir, 'absent'), ['link-cut']).size, 0);
  assert.deepEqual(readChaosResults(join(dir, 'chaos'), ['link-cut', 'store-restart']), new Map([['link-cut', { passed: true, finishedAt: '2026-01-01T00:00:00Z', detail: null }]]));
  assert.throws(() => readChaosResults(join(dir, 'chaos'), ['clock-skew']), (e: unknown) => e instanceof InterlockError && e.code === 'IL_ERR_REPORT_INPUT_INVALID' && e.message.includes('clock-skew.json'));
});

test('evidence paths are looked up inside the repository only', () => {
  const dir = tempDir('interlock-repo-');
  mkdirSync(join(dir, 'test'));
  writeFileSync(join(dir, 'test', 'a.test.ts'), '');
  const exists = fileExistsUnder(dir);
  assert.equal(exists('test/a.test.ts'), true);
  assert.equal(exists('test/b.test.ts'), false);
  assert.equal(exists('test'), false, 'a folder is not a test file');
  assert.equal(exists('../../etc/passwd'), false);
});
