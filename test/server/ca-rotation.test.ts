import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { InterlockError, type ErrorCode } from '../../src/errors.ts';
import { apiRequest, type ApiConnection } from '../../src/client/api.ts';
import { createCsr } from '../../src/pki/csr.ts';
import { exportPrivateKeyPem, generateKeyPair, x509 } from '../../src/pki/x509.ts';
import { gatewaySpiffeId } from '../../src/identity/spiffe-id.ts';
import { startTestControlPlane, type TestControlPlane } from '../helpers/control-plane.ts';

function failsWith(code: ErrorCode, pattern?: RegExp) {
  return (error: unknown) => {
    assert.ok(error instanceof InterlockError, String(error));
    assert.equal(error.code, code, error.message);
    if (pattern) assert.match(error.message, pattern);
    return true;
  };
}

interface Readiness {
  record: { step: string; pairs: Array<{ cluster: string | null; previous: string; next: string }> } | null;
  nextStep: string | null;
  ready: boolean;
  waitingFor: string | null;
  gateways: Array<{ gateway: string; confirmed: boolean }>;
  remaining: { count: number };
}

describe('staged CA rotation on the control plane', () => {
  let cp: TestControlPlane;
  let custodian: ApiConnection;
  /** The east gateway, as an mTLS connection to the control plane. */
  let gateway: ApiConnection & { serial: string };
  let workloadEntry: string;

  const attest = async (entryId: string): Promise<ApiConnection & { serial: string }> => {
    const { token } = await cp.call<{ token: string }>('POST', '/v1/join-tokens', { entryId, ttlSeconds: 600 });
    const keys = await generateKeyPair();
    const { body } = await apiRequest<{ certChainPem: string; bundlePem: string; serial: string }>(cp.anonymous, 'POST', '/v1/attest/join-token', { token, csr: await createCsr(keys) });
    return { ...cp.anonymous, certPem: body.certChainPem, keyPem: await exportPrivateKeyPem(keys.privateKey), serial: body.serial };
  };
  const state = (target = 'east') => cp.call<Readiness>('GET', `/v1/ca/rotations/${target}`, undefined, custodian);
  const step = (action: 'advance' | 'revert', expect: string, target = 'east') => cp.call<{ step: string }>('POST', `/v1/ca/rotations/${target}/${action}`, { expect }, custodian);
  const report = async () => {
    const { body: trust } = await apiRequest<{ version: number; authorities: Array<{ serial: string }> }>(gateway, 'GET', '/v1/trust');
    await apiRequest(gateway, 'POST', '/v1/trust/report', { version: trust.version, serials: trust.authorities.map((a) => a.serial) });
    return trust;
  };

  before(async () => {
    cp = await startTestControlPlane();
    custodian = await cp.adminWith('kim', ['key-custodian']);
    await cp.call('POST', '/v1/clusters', { name: 'east' });
    const gatewayEntry = await cp.call<{ id: string }>('POST', '/v1/entries', { cluster: 'east', spiffeId: gatewaySpiffeId('east.acme.internal'), gateway: true, ttlSeconds: 600 });
    workloadEntry = (await cp.call<{ id: string }>('POST', '/v1/entries', { cluster: 'east', spiffeId: 'spiffe://east.acme.internal/ns/shop/sa/frontend', ttlSeconds: 600 })).id;
    gateway = await attest(gatewayEntry.id);
  });
  after(() => cp?.close());

  test('each step waits for its check: no switch before the gateway confirms, no withdraw while old SVIDs are valid; a wrong expected step is refused', async () => {
    const old = await attest(workloadEntry);
    const begun = await cp.call<Readiness['record'] & object>('POST', '/v1/ca/rotations/east', {}, custodian);
    assert.equal(begun.step, 'published');
    await assert.rejects(cp.call('POST', '/v1/ca/rotations/east', {}, custodian), failsWith('IL_ERR_ROTATION_IN_PROGRESS'));
    await assert.rejects(cp.call('POST', '/v1/ca/rotations/root', {}, custodian), failsWith('IL_ERR_ROTATION_IN_PROGRESS', /east intermediate/));

    let s = await state();
    assert.equal(s.nextStep, 'switch');
    assert.equal(s.ready, false);
    assert.match(s.waitingFor!, /1 of 1 gateways have not confirmed/);
    await assert.rejects(step('advance', 'published'), failsWith('IL_ERR_ROTATION_NOT_READY', /gateway/));

    const trust = await report();
    assert.ok(trust.authorities.some((a) => a.serial === begun.pairs[0]!.next), 'the new CA is published before it signs');
    s = await state();
    assert.equal(s.ready, true);
    await assert.rejects(step('advance', 'switched'), failsWith('IL_ERR_ROTATION_STATE', /at step published/));
    assert.equal((await step('advance', 'published')).step, 'switched');

    // New SVIDs come from the new CA; the old CA's SVID (and the gateway's) hold up the withdraw.
    const fresh = await attest(workloadEntry);
    const issued = await cp.call<Array<{ serial: string; issuerSerial: string }>>('GET', '/v1/svids?cluster=east');
    assert.equal(issued.find((r) => r.serial === fresh.serial)?.issuerSerial, begun.pairs[0]!.next);
    s = await state();
    assert.equal(s.nextStep, 'withdraw');
    assert.equal(s.remaining.count, 2);
    await assert.rejects(step('advance', 'switched'), failsWith('IL_ERR_ROTATION_NOT_READY', /2 SVIDs from the old CA/));

    // Revoking them (as a key custodian would after a compromise) lets the withdraw go ahead.
    await cp.call('POST', `/v1/svids/${old.serial}/revoke`, { reason: 'test' }, custodian);
    await cp.call('POST', `/v1/svids/${gateway.serial}/revoke`, { reason: 'test' }, custodian);
    assert.equal((await step('advance', 'switched')).step, 'withdrawn');
    const after = await apiRequest<{ authorities: Array<{ serial: string }> }>(fresh, 'GET', '/v1/trust');
    assert.ok(!after.body.authorities.some((a) => a.serial === begun.pairs[0]!.previous), 'the old CA is withdrawn');
    // Each CA keeps its own CRL: the old CA's revocations stay published after the rotation.
    const oldCrl = await apiRequest<string>(cp.anonymous, 'GET', `/v1/crl/east.pem?ca=${begun.pairs[0]!.previous}`);
    const newCrl = await apiRequest<string>(cp.anonymous, 'GET', '/v1/crl/east.pem');
    const listed = (pem: string) => new x509.X509Crl(pem).entries.map((e) => e.serialNumber);
    assert.deepEqual(listed(oldCrl.body).sort(), [old.serial, gateway.serial].sort());
    assert.deepEqual(listed(newCrl.body), []);
    await assert.rejects(apiRequest(cp.anonymous, 'GET', '/v1/crl/east.pem?ca=abc'), failsWith('IL_ERR_NOT_FOUND'));
    await assert.rejects(step('revert', 'withdrawn'), failsWith('IL_ERR_REQUEST_INVALID'));
    await assert.rejects(step('revert', 'switched'), failsWith('IL_ERR_ROTATION_STATE', /ended withdrawn/));
    gateway = await attest((await cp.call<Array<{ id: string; gateway: boolean }>>('GET', '/v1/entries?cluster=east')).find((e) => e.gateway)!.id);
  });

  test('revert: after the switch the old CA signs again; before it the new CA is dropped', async () => {
    const begun = await cp.call<{ pairs: Array<{ previous: string; next: string }> }>('POST', '/v1/ca/rotations/east', {}, custodian);
    await report();
    await step('advance', 'published');
    assert.equal((await step('revert', 'switched')).step, 'published');
    const back = await attest(workloadEntry);
    const rows = await cp.call<Array<{ serial: string; issuerSerial: string }>>('GET', '/v1/svids?cluster=east');
    assert.equal(rows.find((r) => r.serial === back.serial)?.issuerSerial, begun.pairs[0]!.previous, 'the old CA signs again');
    assert.equal((await step('revert', 'published')).step, 'aborted');
    const trust = await apiRequest<{ authorities: Array<{ serial: string }> }>(back, 'GET', '/v1/trust');
    assert.ok(!trust.body.authorities.some((a) => a.serial === begun.pairs[0]!.next), 'the new CA is dropped');
    assert.ok(trust.body.authorities.some((a) => a.serial === begun.pairs[0]!.previous));
  });

  test('only key custodians drive rotations; auditors may look', async () => {
    const auditor = await cp.adminWith('ana', ['auditor']);
    await assert.rejects(cp.call('POST', '/v1/ca/rotations/east', {}, auditor), failsWith('IL_ERR_ROLE_FORBIDDEN'));
    assert.ok(await cp.call('GET', '/v1/ca/rotations/east', undefined, auditor));
    await assert.rejects(cp.call('POST', '/v1/ca/rotations/nowhere', {}, custodian), failsWith('IL_ERR_CLUSTER_UNKNOWN'));
  });
});
