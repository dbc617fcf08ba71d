import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RiskRegisterReport } from '../../src/reports/risk-register.ts';
import { runCli } from '../helpers/cli.ts';
import { tempDir } from '../helpers/pki.ts';

const THREATS = `# Threat model

### T01 — Replay
- **Boundary:** gateway↔gateway
- **Asset:** workload data in transit
- **STRIDE:** Tampering
- **Mitigations:** one-time assertions
- **Evidence:** \`test/replay.test.ts\`; chaos \`captured-request-replayed\`
- **Residual risk:** replicas do not share the guard.

### T02 — Clock skew
- **Boundary:** gateway↔gateway
- **Asset:** workload identity
- **STRIDE:** Spoofing
- **Mitigations:** validity windows
- **Evidence:** chaos \`clock-skew\`
- **Residual risk:** clocks are not synchronised.
`;

/** A repository with a threat model, a test results summary and one chaos result. */
function fixtureRepo(threats = THREATS): string {
  const repo = tempDir('interlock-report-cli-');
  mkdirSync(join(repo, 'docs'));
  mkdirSync(join(repo, 'test'));
  mkdirSync(join(repo, 'test-results', 'chaos'), { recursive: true });
  writeFileSync(join(repo, 'docs', 'threat-model.md'), threats);
  writeFileSync(join(repo, 'test', 'replay.test.ts'), '');
  const passed = { passed: 4, failed: 0, skipped: 0, todo: 0, fileError: null, failures: [], finishedAt: '2026-01-01T00:00:00.000Z' };
  writeFileSync(join(repo, 'test-results', 'results.json'), JSON.stringify({ format: 'interlock-test-results/v1', files: { 'test/replay.test.ts': passed } }));
  writeFileSync(join(repo, 'test-results', 'chaos', 'captured-request-replayed.json'), JSON.stringify({ passed: true }));
  return repo;
}

test('interlock report risk-register needs no control plane: evidence linked to the last results, unrun chaos flagged', () => {
  const repo = fixtureRepo();
  const result = runCli(['report', 'risk-register', '--repo', repo, '--format', 'json']);
  assert.equal(result.status, 0, result.stderr);
  const report = JSON.parse(result.stdout) as RiskRegisterReport;
  assert.deepEqual(report.threats.map((t) => [t.id, t.status, t.evidence.map((e) => e.status)]), [
    ['T01', 'proven', ['passed', 'passed']],
    ['T02', 'flagged', ['not run']],
  ]);
  assert.deepEqual(report.threats[1]!.flags, ['evidence never ran: chaos clock-skew']);
});

test('--out writes the Markdown register to a file', () => {
  const repo = fixtureRepo();
  const out = join(repo, 'register.md');
  const result = runCli(['report', 'risk-register', '--repo', repo, '--out', out]);
  assert.equal(result.status, 0, result.stderr);
  assert.match(result.stdout, /wrote the risk-register report to/);
  assert.match(readFileSync(out, 'utf8'), /^2 threats: 1 proven by evidence that last passed, 1 flagged/m);
});

test('a malformed threat model fails with IL_ERR_THREAT_MODEL_INVALID naming the file and line', () => {
  const repo = fixtureRepo(THREATS.replace('- **STRIDE:** Spoofing', '- **STRIDE:** Spoof'));
  const result = runCli(['report', 'risk-register', '--repo', repo]);
  assert.equal(result.status, 2);
  assert.match(result.stderr, /^interlock: error IL_ERR_THREAT_MODEL_INVALID: .*threat-model\.md:14: STRIDE "Spoof" is not one of .*\[.*threat-model\.md:14\]/m);
});

test('an unknown report kind or format is a usage error', () => {
  assert.match(runCli(['report', 'everything']).stderr, /IL_ERR_USAGE: no report "everything"; choose one of inventory, trust-boundaries, risk-register/);
  assert.match(runCli(['report', 'risk-register', '--format', 'pdf']).stderr, /IL_ERR_USAGE: --format must be markdown or json/);
});
