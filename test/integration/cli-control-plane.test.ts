import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCliAsync as runCli } from '../helpers/cli.ts';
import { startTestControlPlane, type TestControlPlane } from '../helpers/control-plane.ts';

describe('the CLI against a running control plane', () => {
  let cp: TestControlPlane;
  let env: Record<string, string>;

  before(async () => {
    cp = await startTestControlPlane();
    const bundleFile = join(cp.dir, 'bundle.pem');
    writeFileSync(bundleFile, cp.anonymous.bundlePem);
    env = { INTERLOCK_SERVER: cp.server.url, INTERLOCK_CA_FILE: bundleFile, INTERLOCK_TOKEN: cp.admin.token! };
  });
  after(() => cp?.close());

  test('an operator adds a cluster, an entry and a join token; tokens go to 0600 files, not the terminal', async () => {
    assert.equal((await runCli(['cluster', 'add', 'east'], { env })).status, 0);
    const entry = await runCli(['entry', 'create', '--cluster', 'east', '--id', 'spiffe://east.acme.internal/ns/shop/sa/frontend', '--namespace', 'shop', '--service-account', 'frontend', '--json'], { env });
    assert.equal(entry.status, 0, entry.stderr);
    const { id } = JSON.parse(entry.stdout) as { id: string };
    const tokenFile = join(cp.dir, 'join-token');
    const token = await runCli(['token', 'create', '--entry', id, '--out', tokenFile], { env });
    assert.equal(token.status, 0, token.stderr);
    assert.doesNotMatch(token.stdout, /iljt_/);
    assert.match(readFileSync(tokenFile, 'utf8'), /^iljt_/);
  });

  test('policy governance from the CLI: the author cannot approve their own version (exit 2)', async () => {
    const authorFile = join(cp.dir, 'alice.token');
    const approverFile = join(cp.dir, 'bob.token');
    assert.equal((await runCli(['admin', 'create', 'alice', '--role', 'policy-author', 'policy-approver', '--out', authorFile], { env })).status, 0);
    assert.equal((await runCli(['admin', 'create', 'bob', '--role', 'policy-approver', '--out', approverFile], { env })).status, 0);
    const policy = join(cp.dir, 'p.cedar');
    writeFileSync(policy, 'permit (principal, action, resource) when { context.method == "GET" };\n');
    const proposed = await runCli(['policy', 'propose', policy, '--token-file', authorFile, '--json'], { env });
    assert.equal(proposed.status, 0, proposed.stderr);
    const { version } = JSON.parse(proposed.stdout) as { version: number };
    const own = await runCli(['policy', 'approve', String(version), '--token-file', authorFile], { env });
    assert.equal(own.status, 2);
    assert.match(own.stderr, /^interlock: error IL_ERR_SEPARATION_OF_DUTIES: /);
    assert.equal((await runCli(['policy', 'approve', String(version), '--token-file', approverFile], { env })).status, 0);
    const active = await runCli(['policy', 'activate', String(version), '--token-file', approverFile], { env });
    assert.match(active.stdout, /is active; proposed by admin:alice, active by admin:bob/);
  });

  test("audit verify-server checks the control plane's chain through the API", async () => {
    const result = await runCli(['audit', 'verify-server'], { env });
    assert.equal(result.status, 0, result.stderr);
    assert.match(result.stdout, /^ok .* \d+ records/);
  });

  test('without a bundle the CLI refuses to talk to the server, and says how to get one', async () => {
    const result = await runCli(['cluster', 'list'], { env: { INTERLOCK_SERVER: cp.server.url, INTERLOCK_TOKEN: 'x' } });
    assert.equal(result.status, 2);
    assert.match(result.stderr, /IL_ERR_USAGE: .*trust bundle.*hint: pass --ca-file/);
  });
});
