import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type https from 'node:https';
import { join } from 'node:path';
import { gatewaySpiffeId } from '../../src/identity/spiffe-id.ts';
import type { ApiConnection } from '../../src/client/api.ts';
import { startLab, type LabWorld } from '../../src/lab/world.ts';
import { callThroughGateway, createWorkloadAgent } from '../../src/lab/workload-client.ts';
import { tempDir } from '../helpers/pki.ts';
import { getAdminJson } from '../helpers/admin.ts';

const ALLOW_GET = '@id("frontend-reads-billing") permit (principal == Interlock::Workload::"spiffe://east.acme.internal/ns/shop/sa/frontend", action, resource == Interlock::Service::"west/billing") when { context.method == "GET" };';
const DENY_ALL_READS = '@id("billing-closed") forbid (principal, action, resource == Interlock::Service::"west/billing");';
const BUNDLE_TTL_MS = 5_000;

function health(admin: { host: string; port: number }, path = '/healthz') {
  return getAdminJson<{ policy: Record<string, unknown>; alerts: Array<{ what: string }> }>(admin, path);
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const value = await probe();
    if (value !== undefined) return value;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe('policy bundles pushed to running gateways', () => {
  let world: LabWorld;
  let agent: https.Agent;
  let author: ApiConnection;
  let approver: ApiConnection;

  before(async () => {
    const dir = tempDir('interlock-push-');
    const { writeFileSync } = await import('node:fs');
    writeFileSync(join(dir, 'v1.cedar'), ALLOW_GET);
    world = await startLab({ dir: join(dir, 'lab'), policyFile: join(dir, 'v1.cedar'), bundleTtlMs: BUNDLE_TTL_MS, policyRefreshMs: 1_000 });
    const east = world.clusters.get('east')!;
    agent = createWorkloadAgent(east.identities.get('frontend')!, gatewaySpiffeId(east.trustDomain));
    const cp = world.controlPlane;
    author = { ...cp.admin, token: (await cp.call<{ token: string }>('POST', '/v1/admins', { name: 'carol', roles: ['policy-author'] })).token };
    approver = { ...cp.admin, token: (await cp.call<{ token: string }>('POST', '/v1/admins', { name: 'dan', roles: ['policy-approver'] })).token };
  });
  after(async () => {
    agent?.destroy();
    await world?.close();
  });

  const call = () => callThroughGateway(agent, world.clusters.get('east')!.gateway.outbound, { method: 'GET', host: 'billing.west.interlock', path: '/invoices/1' });
  const westPolicy = async () => (await health(world.clusters.get('west')!.gateway.admin)).body.policy;
  const propose = async (text: string) => {
    const cp = world.controlPlane;
    const { version } = await cp.call<{ version: number }>('POST', '/v1/policies', { text }, author);
    await cp.call('POST', `/v1/policies/${version}/approve`, {}, approver);
    return version;
  };

  test('activating a bundle that revokes a permission denies the next request on the same keep-alive connection, with no restart', async () => {
    const westPid = world.clusters.get('west')!.gateway.process.pid;
    assert.equal((await call()).status, 200);
    const version = await propose(DENY_ALL_READS);
    await world.controlPlane.call('POST', `/v1/policies/${version}/activate`, {}, approver);
    await until('west to enforce the new version', async () => ((await westPolicy()).enforcedVersion === version ? true : undefined));
    const after = await call();
    assert.equal(after.status, 403);
    assert.equal(after.errorCode, 'IL_ERR_POLICY_DENIED');
    assert.equal(after.reusedConnection, true);
    assert.equal(world.clusters.get('west')!.gateway.process.pid, westPid);
  });

  test('rollback is one call, and issues a new, higher version', async () => {
    const rolled = await world.controlPlane.call<{ version: number; status: string }>('POST', '/v1/policies/1/rollback', {}, approver);
    assert.equal(rolled.status, 'active');
    await until('west to enforce the rollback', async () => ((await westPolicy()).enforcedVersion === rolled.version ? true : undefined));
    assert.equal((await call()).status, 200);
  });

  test('a dry-run candidate is evaluated beside the active version and its disagreements counted, enforcement unchanged', async () => {
    const version = await propose(DENY_ALL_READS);
    await world.controlPlane.call('POST', `/v1/policies/${version}/stage`, { stage: 'dry-run' }, approver);
    await until('west to load the candidate', async () => ((await westPolicy()).candidateVersion === version ? true : undefined));
    assert.equal((await call()).status, 200);
    assert.equal((await call()).status, 200);
    const policy = await westPolicy();
    assert.equal(policy.candidateMode, 'dry-run');
    assert.ok((policy.allowToDeny as number) >= 2, JSON.stringify(policy));
  });

  test('a canary on west enforces the candidate there', async () => {
    const version = (await westPolicy()).candidateVersion as number;
    await world.controlPlane.call('POST', `/v1/policies/${version}/stage`, { stage: 'canary', clusters: ['west'] }, approver);
    await until('west to enforce the canary', async () => ((await westPolicy()).candidateMode === 'canary' ? true : undefined));
    assert.equal((await call()).status, 403);
    const status = await world.controlPlane.call<{ rollout: { stage: string } }>('GET', '/v1/policy/status', undefined, approver);
    assert.equal(status.rollout.stage, 'canary');
  });

  test('with the control plane gone, the gateway enforces its last bundle until it expires, then denies with IL_ERR_POLICY_EXPIRED', async () => {
    // Back to the permissive version, then cut the control plane.
    const rolled = await world.controlPlane.call<{ version: number }>('POST', '/v1/policies/1/rollback', {}, approver);
    await until('west to enforce the rollback', async () => ((await westPolicy()).enforcedVersion === rolled.version && (await westPolicy()).candidateVersion === null ? true : undefined));
    await world.controlPlane.stop();
    const stoppedAt = Date.now();
    assert.equal((await call()).status, 200, 'still enforcing the last valid bundle');
    const expiresAt = Date.parse(String((await westPolicy()).expiresAt));
    assert.ok(expiresAt - stoppedAt <= BUNDLE_TTL_MS + 100);
    // The gateway raises an alert while the bundle is still valid (a third of its life left, no refresh).
    let alertedAt = Number.NaN;
    while (Date.now() < expiresAt && !Number.isFinite(alertedAt)) {
      const { body } = await health(world.clusters.get('west')!.gateway.admin, '/healthz');
      if (body.alerts.some((a) => a.what.startsWith('policy bundle'))) alertedAt = Date.now();
      else await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(alertedAt < expiresAt, 'an expiry alert before the bundle expired');
    await new Promise((r) => setTimeout(r, Math.max(0, expiresAt - Date.now()) + 200));
    const denied = await call();
    assert.equal(denied.status, 403);
    assert.equal(denied.errorCode, 'IL_ERR_POLICY_EXPIRED');
    const ready = await health(world.clusters.get('west')!.gateway.admin, '/readyz');
    assert.equal(ready.status, 503);
    assert.equal(ready.body.policy.state, 'expired');
  });
});
