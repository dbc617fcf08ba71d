import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { WorkloadIdentity } from '../../src/workload/identity.ts';
import { createCsr } from '../../src/pki/csr.ts';
import { generateKeyPair } from '../../src/pki/x509.ts';
import { createFakeApiServer, type FakeApiServer } from '../../src/lab/fake-kubernetes.ts';
import { startTestControlPlane, type TestControlPlane } from '../helpers/control-plane.ts';

const code = (expected: string) => (error: unknown) => {
  assert.equal((error as { code?: string }).code, expected, String(error));
  return true;
};

describe('changing a registration entry re-issues its identities', () => {
  let cp: TestControlPlane;
  let k8s: FakeApiServer;

  before(async () => {
    cp = await startTestControlPlane();
    k8s = await createFakeApiServer('east');
    await cp.call('POST', '/v1/clusters', { name: 'east', k8s: { jwks: k8s.jwks, issuer: k8s.issuer } });
  });
  after(() => cp?.close());

  test('a changed lifetime revokes the SVIDs issued under the old terms; the workload (following the watch stream) attests again and gets the new lifetime', async () => {
    const entry = await cp.call<{ id: string; spiffeId: string }>('POST', '/v1/entries', { cluster: 'east', spiffeId: 'spiffe://east.acme.internal/ns/shop/sa/frontend', namespace: 'shop', serviceAccount: 'frontend', ttlSeconds: 3600 });
    const workload = await WorkloadIdentity.attest({ server: cp.server.url, bundlePem: cp.anonymous.bundlePem, serverId: cp.server.spiffeId, attestation: { kind: 'k8s', cluster: 'east', token: () => k8s.mintToken('shop', 'frontend') }, follow: true });
    try {
      const first = workload.current;
      await new Promise((r) => setTimeout(r, 300)); // the watch stream connects
      const rotated = new Promise<{ serial: string; notAfter: Date; notBefore: Date }>((resolve) => workload.once('rotated', resolve));
      const changed = await cp.call<{ ttlSeconds: number; reissued: number }>('PATCH', `/v1/entries/${entry.id}`, { ttlSeconds: 600 });
      assert.equal(changed.ttlSeconds, 600);
      assert.equal(changed.reissued, 1);
      const next = await rotated;
      assert.notEqual(next.serial, first.serial);
      assert.ok(next.notAfter.getTime() - Date.now() <= 600_000, 'the new SVID has the new lifetime');
      const revoked = await cp.call<Array<{ serial: string; revokedAt: string | null; revocationReason: string | null }>>('GET', '/v1/svids?cluster=east');
      assert.match(revoked.find((s) => s.serial === first.serial)!.revocationReason!, /registration entry changed/);
    } finally {
      workload.close();
    }
  });

  test('a deleted entry revokes its SVIDs at once', async () => {
    const entry = await cp.call<{ id: string }>('POST', '/v1/entries', { cluster: 'east', spiffeId: 'spiffe://east.acme.internal/ns/shop/sa/cart', namespace: 'shop', serviceAccount: 'cart' });
    const workload = await WorkloadIdentity.attest({ server: cp.server.url, bundlePem: cp.anonymous.bundlePem, serverId: cp.server.spiffeId, attestation: { kind: 'k8s', cluster: 'east', token: () => k8s.mintToken('shop', 'cart') } });
    try {
      await cp.call('DELETE', `/v1/entries/${entry.id}`);
      const rows = await cp.call<Array<{ serial: string; revokedAt: string | null }>>('GET', '/v1/svids?cluster=east');
      assert.ok(rows.find((s) => s.serial === workload.current.serial)!.revokedAt);
      await assert.rejects(workload.renewNow(), /revoked/);
    } finally {
      workload.close();
    }
  });

  test("taking an admin's operator role away re-issues the identities they registered and deletes their unused join tokens", async () => {
    const olga = await cp.adminWith('olga', ['operator']);
    const entry = await cp.call<{ id: string }>('POST', '/v1/entries', { cluster: 'east', spiffeId: 'spiffe://east.acme.internal/ns/shop/sa/search', namespace: 'shop', serviceAccount: 'search' }, olga);
    const { token } = await cp.call<{ token: string }>('POST', '/v1/join-tokens', { entryId: entry.id }, olga);
    const workload = await WorkloadIdentity.attest({ server: cp.server.url, bundlePem: cp.anonymous.bundlePem, serverId: cp.server.spiffeId, attestation: { kind: 'k8s', cluster: 'east', token: () => k8s.mintToken('shop', 'search') }, follow: true });
    try {
      const first = workload.current.serial;
      await new Promise((r) => setTimeout(r, 300));
      const rotated = new Promise<{ serial: string }>((resolve) => workload.once('rotated', resolve));
      await assert.rejects(cp.call('PATCH', '/v1/admins/olga', { roles: ['auditor'] }, olga), code('IL_ERR_SEPARATION_OF_DUTIES'));
      const changed = await cp.call<{ roles: string[]; removedRoles: string[]; reissued: number; joinTokensDeleted: number }>('PATCH', '/v1/admins/olga', { roles: ['auditor'] });
      assert.deepEqual(changed.removedRoles, ['operator']);
      assert.equal(changed.reissued, 1);
      assert.equal(changed.joinTokensDeleted, 1);
      assert.notEqual((await rotated).serial, first);
      const csr = await createCsr(await generateKeyPair());
      await assert.rejects(cp.call('POST', '/v1/attest/join-token', { token, csr }, cp.anonymous), code('IL_ERR_ATTESTATION_TOKEN_UNKNOWN'));
      await assert.rejects(cp.call('POST', '/v1/entries', { cluster: 'east', spiffeId: 'spiffe://east.acme.internal/ns/shop/sa/x' }, olga), code('IL_ERR_ROLE_FORBIDDEN'));
    } finally {
      workload.close();
    }
  });
});
