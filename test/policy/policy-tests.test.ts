import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { InterlockError } from '../../src/errors.ts';
import { findPolicyTestFiles, loadPolicyTestFile, runPolicyTests, toPolicyRequest } from '../../src/policy/policy-tests.ts';

const EXAMPLES = fileURLToPath(new URL('../../examples/policies/', import.meta.url));
const EXAMPLE_TESTS = join(EXAMPLES, 'tests');

async function tempDir(files: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'interlock-policy-tests-'));
  for (const [name, body] of Object.entries(files)) await writeFile(join(dir, name), body);
  return dir;
}

const ALLOW_GET = '@id("get") permit (principal, action, resource == Interlock::Service::"west/billing") when { context.method == "GET" };\n';
const CASE = (expect: string, method = 'GET') => `
policies: p.cedar
cases:
  - name: a call
    request: { principal: "spiffe://east.acme.internal/ns/shop/sa/frontend", resource: west/billing, method: ${method}, path: / }
    expect: ${expect}
`;

async function rejects(path: string, code: string, pattern: RegExp, field?: string): Promise<void> {
  await assert.rejects(runPolicyTests(path), (err: unknown) => {
    assert.ok(err instanceof InterlockError, String(err));
    assert.equal(err.code, code);
    assert.match(err.message, pattern);
    if (field !== undefined) assert.equal(err.field, field);
    return true;
  });
}

/**
 * Runs `interlock policy test …` in a child process, as a user would; the
 * command is not registered in main.ts yet, so a two-line program hosts it.
 */
function cli(args: string[]): { code: number | null; stdout: string; stderr: string } {
  const command = fileURLToPath(new URL('../../src/cli/commands/policy/test.ts', import.meta.url));
  const script = `import { Command } from 'commander';
    import { registerPolicyTest } from ${JSON.stringify(command)};
    const program = new Command('interlock');
    registerPolicyTest(program.command('policy'));
    await program.parseAsync(process.argv.slice(1), { from: 'user' });`;
  const result = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script, 'policy', 'test', ...args], { encoding: 'utf8', timeout: 60_000 });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe('policy unit tests', () => {
  it('passes every shipped example case, and every example policy has a test file', async () => {
    const report = await runPolicyTests(EXAMPLE_TESTS);
    const failures = report.results.filter((r) => !r.passed).map((r) => `${r.name}: ${r.failure}`);
    assert.deepEqual(failures, []);
    assert.ok(report.passed >= 20, `${report.passed} cases`);

    const tested = new Set<string>();
    for (const file of await findPolicyTestFiles(EXAMPLE_TESTS)) tested.add((await loadPolicyTestFile(file)).policies);
    const examples = (await readdir(EXAMPLES)).filter((n) => n.endsWith('.cedar')).map((n) => resolve(EXAMPLES, n));
    assert.deepEqual([...tested].sort(), examples.sort());
  });

  it('reports a failing case as failing, with the decision that made it fail', async () => {
    const dir = await tempDir({ 'p.cedar': ALLOW_GET, 'wrong.yaml': CASE('allow', 'POST') });
    const report = await runPolicyTests(dir);
    assert.equal(report.failed, 1);
    assert.equal(report.results[0]?.passed, false);
    assert.equal(report.results[0]?.failure, 'expected allow, got deny: no policy permits this call (default deny)');
  });

  it('checks policyIds as well as the verdict', async () => {
    const dir = await tempDir({ 'p.cedar': ALLOW_GET, 't.yaml': `${CASE('allow')}    policyIds: [other]\n` });
    const [result] = (await runPolicyTests(dir)).results;
    assert.equal(result?.failure, 'expected allow by [other], got allow by [get]: allowed by get');
  });

  it('derives principal attributes from the SPIFFE ID and the cluster from the trust domain', () => {
    const req = toPolicyRequest({ principal: 'spiffe://east.acme.internal/ns/shop/sa/frontend', resource: 'west/billing/v2', method: 'GET', path: '/', purpose: 'audit' });
    assert.deepEqual(req, {
      principal: { id: 'spiffe://east.acme.internal/ns/shop/sa/frontend', trustDomain: 'east.acme.internal', cluster: 'east', namespace: 'shop', serviceAccount: 'frontend' },
      resource: { cluster: 'west', service: 'billing/v2' },
      context: { method: 'GET', path: '/', sourceCluster: 'east', purpose: 'audit' },
    });
  });

  it('never falls back to the real clock: a time policy without request.time fails the case', async () => {
    const dir = await tempDir({ 'p.cedar': 'permit (principal, action, resource) when { context.time > datetime("2000-01-01") };', 't.yaml': CASE('allow') });
    const [result] = (await runPolicyTests(dir)).results;
    assert.match(result?.failure ?? '', /sets no request\.time/);
  });

  it('rejects malformed test files naming the file and field', async () => {
    const badExpect = await tempDir({ 'p.cedar': ALLOW_GET, 't.yaml': CASE('maybe') });
    await rejects(badExpect, 'IL_ERR_CONFIG_INVALID', /t\.yaml: cases\.0\.expect: /, 'cases.0.expect');
    const badPrincipal = await tempDir({ 'p.cedar': ALLOW_GET, 't.yaml': CASE('allow').replace('spiffe://east.acme.internal', 'https://east') });
    await rejects(badPrincipal, 'IL_ERR_CONFIG_INVALID', /t\.yaml: cases\.0\.request\.principal: /, 'cases.0.request.principal');
    const noCases = await tempDir({ 't.json': '{"policies": "p.cedar", "cases": []}' });
    await rejects(noCases, 'IL_ERR_CONFIG_INVALID', /t\.json: cases: /, 'cases');
    const typo = await tempDir({ 'p.cedar': ALLOW_GET, 't.yaml': CASE('allow').replace('expect:', 'expected:') });
    await rejects(typo, 'IL_ERR_CONFIG_UNKNOWN_KEY', /unknown key "expected"/);
    const notYaml = await tempDir({ 't.yaml': 'cases: [' });
    await rejects(notYaml, 'IL_ERR_CONFIG_INVALID', /t\.yaml is not valid YAML/);
    const missingPolicy = await tempDir({ 't.yaml': CASE('allow') });
    await rejects(missingPolicy, 'IL_ERR_CONFIG_NOT_FOUND', /p\.cedar/);
    await rejects(await tempDir({}), 'IL_ERR_CONFIG_INVALID', /holds no policy test files/);
  });

  it('interlock policy test exits 0 when all pass, 1 when one fails, 2 on bad input', async () => {
    const passing = cli([EXAMPLE_TESTS]);
    assert.equal(passing.code, 0, passing.stderr);
    assert.match(passing.stdout, /^PASS demo\.yaml › the east frontend may GET billing$/m);
    assert.match(passing.stdout, /^4 files, \d+ cases: \d+ passed, 0 failed$/m);

    const dir = await tempDir({ 'p.cedar': ALLOW_GET, 'wrong.yaml': CASE('allow', 'POST') });
    const failing = cli([dir, '--json']);
    assert.equal(failing.code, 1);
    const report = JSON.parse(failing.stdout) as { failed: number; results: Array<{ passed: boolean; decision: { reason: string } }> };
    assert.equal(report.failed, 1);
    assert.equal(report.results[0]?.decision.reason, 'no policy permits this call (default deny)');

    const bad = cli([join(dir, 'missing.yaml')]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /^interlock: error IL_ERR_CONFIG_NOT_FOUND: /);
  });
});
