import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { METRIC } from '../../src/telemetry/names.ts';
import { RULES } from '../../src/server/alert-rules.ts';

const DIR = fileURLToPath(new URL('../../deploy/prometheus/', import.meta.url));

interface RuleFile {
  groups: Array<{ name: string; rules: Array<{ alert?: string; record?: string; expr: string; labels?: Record<string, string> }> }>;
}
interface RuleTests {
  tests: Array<{ alert_rule_test?: Array<{ alertname: string; exp_alerts: unknown[] }> }>;
}

/** promtool's answer, or undefined (the test skipped, saying why) where it is not installed. */
function promtool(t: TestContext, args: string[]): SpawnSyncReturns<string> | undefined {
  const result = spawnSync('promtool', args, { cwd: DIR, encoding: 'utf8' });
  if ((result.error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT') {
    // .ci/run installs it (Debian package prometheus).
    console.log('# promtool not installed: the Prometheus rules were not checked by promtool');
    t.skip('promtool not installed');
    return undefined;
  }
  return result;
}

const rules = parseYaml(readFileSync(`${DIR}alerts.yml`, 'utf8')) as RuleFile;
const alerting = rules.groups.flatMap((g) => g.rules).filter((r) => r.alert);

test('promtool check rules accepts deploy/prometheus/alerts.yml', (t) => {
  const result = promtool(t, ['check', 'rules', 'alerts.yml']);
  if (!result) return;
  assert.equal(result.status, 0, result.stdout + result.stderr);
  assert.match(result.stdout, /SUCCESS: \d+ rules found/);
});

test('promtool test rules: the rules unit tests pass, and at least three rules fire on synthetic series', (t) => {
  const cases = (parseYaml(readFileSync(`${DIR}alerts.test.yml`, 'utf8')) as RuleTests).tests.flatMap((c) => c.alert_rule_test ?? []);
  const firing = new Set(cases.filter((c) => c.exp_alerts.length > 0).map((c) => c.alertname));
  assert.ok(firing.size >= 3, `only ${[...firing].join(', ')} are shown firing`);
  const result = promtool(t, ['test', 'rules', 'alerts.test.yml']);
  if (!result) return;
  assert.equal(result.status, 0, result.stdout + result.stderr);
  assert.match(result.stdout, /SUCCESS/);
});

test('the rules use only metrics Interlock exports (src/telemetry/names.ts)', () => {
  const exported = new Set<string>(Object.values(METRIC));
  // Metric names, not recording rules (level:metric:operation) nor their parts.
  const used = new Set(rules.groups.flatMap((g) => g.rules).flatMap((r) => [...r.expr.matchAll(/(?<![:\w])interlock_[a-z0-9_]+(?![:\w])/g)].map((m) => m[0])));
  assert.ok(used.size >= 8, `only ${used.size} metrics used`);
  assert.deepEqual([...used].filter((name) => !exported.has(name)), []);
});

test('each control-plane alert rule has a Prometheus counterpart, and gateways going down are alerted too', () => {
  const covered = new Set(alerting.map((r) => r.labels?.rule));
  assert.deepEqual(RULES.filter((rule) => !covered.has(rule)), []);
  assert.ok(alerting.some((r) => /up\{job="interlock-gateway"\} == 0/.test(r.expr)));
  for (const rule of alerting) assert.match(rule.labels?.severity ?? '', /^(warning|critical)$/, `${rule.alert} has a severity`);
});
