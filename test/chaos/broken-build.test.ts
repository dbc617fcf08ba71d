import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { netnsUnavailableReason } from '../../src/lab/netns.ts';
import { runChaos } from '../../src/lab/chaos/runner.ts';
import { runCli } from '../helpers/cli.ts';
import { tempDir } from '../helpers/pki.ts';

test('the broken build cannot be switched on outside a lab folder', () => {
  const config = join(tempDir('interlock-not-a-lab-'), 'gateway.yaml');
  writeFileSync(config, 'cluster: east\n');
  const result = runCli(['gateway', '--config', config, '--lab-unsafe-skip-policy']);
  assert.equal(result.status, 2, result.stderr);
  assert.match(result.stderr, /IL_ERR_CONFIG_INVALID: --lab-unsafe-skip-policy is only for gateways of an Interlock lab/);
  assert.doesNotMatch(runCli(['gateway', '--help']).stdout, /unsafe/, 'the flag is hidden from help');
});

const reason = netnsUnavailableReason();

describe('the experiments can fail', { skip: reason ? `needs root: ${reason}` : false }, () => {
  test('with a west gateway that skips the policy check, the policy invariant fails', async () => {
    const out = tempDir('interlock-chaos-broken-');
    const [result] = await runChaos({ names: ['revoked-reuse'], out, gatewayArgs: { west: ['--lab-unsafe-skip-policy'] } });
    assert.ok(result);
    assert.equal(result.status, 'failed');
    const policy = result.invariants.find((i) => i.name === 'policy')!;
    assert.equal(policy.ok, false);
    assert.match(policy.detail, /denied request\(s\) accepted: .*deny-probe/);
    assert.match(policy.detail, /service served/);
    console.log(`# broken build caught: ${policy.detail.slice(0, 160)}…`);
  });
});
