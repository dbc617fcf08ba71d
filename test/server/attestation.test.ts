import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { InterlockError, type ErrorCode } from '../../src/errors.ts';
import { apiRequest } from '../../src/client/api.ts';
import { createCsr } from '../../src/pki/csr.ts';
import { generateKeyPair, x509 } from '../../src/pki/x509.ts';
import { verifySvidChain } from '../../src/pki/verify.ts';
import { WorkloadIdentity } from '../../src/workload/identity.ts';
import { createFakeApiServer, type FakeApiServer } from '../../src/lab/fake-kubernetes.ts';
import { startTestControlPlane, type TestControlPlane } from '../helpers/control-plane.ts';
import { createLocalJWKSet, jwtVerify } from 'jose';
import { hashSecret } from '../../src/server/secrets.ts';

function failsWith(code: ErrorCode, field?: string) {
  return (error: unknown) => {
    assert.ok(error instanceof InterlockError, String(error));
    assert.equal(error.code, code, error.message);
    if (field) assert.equal(error.field, field);
    return true;
  };
}

describe('attestation and issuance through the control plane API', () => {
  let cp: TestControlPlane;
  let k8s: FakeApiServer;
  let frontendEntry: { id: string; spiffeId: string };

  before(async () => {
    cp = await startTestControlPlane();
    k8s = await createFakeApiServer('east');
    await cp.call('POST', '/v1/clusters', { name: 'east', k8s: { jwks: k8s.jwks, issuer: k8s.issuer } });
    frontendEntry = await cp.call('POST', '/v1/entries', { cluster: 'east', spiffeId: 'spiffe://east.acme.internal/ns/shop/sa/frontend', namespace: 'shop', serviceAccount: 'frontend', ttlSeconds: 600 });
  });
  after(() => cp?.close());

  const joinToken = async (ttlSeconds = 600) => (await cp.call<{ token: string }>('POST', '/v1/join-tokens', { entryId: frontendEntry.id, ttlSeconds })).token;
  const attestWith = async (path: string, body: Record<string, unknown>) => {
    const csr = await createCsr(await generateKeyPair());
    return (await apiRequest<{ spiffeId: string; certChainPem: string; bundlePem: string; serial: string }>(cp.anonymous, 'POST', path, { ...body, csr })).body;
  };

  test('a join token gets an SVID for its entry, chained to the bundle; the same token is refused a second time', async () => {
    const token = await joinToken();
    const issued = await attestWith('/v1/attest/join-token', { token });
    assert.equal(issued.spiffeId, frontendEntry.spiffeId);
    const chain = issued.certChainPem.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g)!.map((pem) => new x509.X509Certificate(pem));
    const verified = await verifySvidChain(chain, [new x509.X509Certificate(issued.bundlePem)], new Date());
    assert.equal(verified.spiffeId.id, frontendEntry.spiffeId);
    await assert.rejects(attestWith('/v1/attest/join-token', { token }), failsWith('IL_ERR_ATTESTATION_TOKEN_USED', 'token'));
  });

  test('an expired join token is refused', async () => {
    const token = 'iljt_expired-token-for-the-test';
    const past = new Date(Date.now() - 60_000).toISOString();
    await cp.server.store.insertJoinToken({ tokenHash: hashSecret(token), entryId: frontendEntry.id, expiresAt: past, usedAt: null, createdAt: past, createdBy: 'test' });
    await assert.rejects(attestWith('/v1/attest/join-token', { token }), failsWith('IL_ERR_ATTESTATION_TOKEN_EXPIRED'));
  });

  test('an unknown join token is refused, and a malformed CSR does not burn a good token', async () => {
    await assert.rejects(attestWith('/v1/attest/join-token', { token: 'iljt_not-a-real-token' }), failsWith('IL_ERR_ATTESTATION_TOKEN_UNKNOWN'));
    const token = await joinToken();
    await assert.rejects(apiRequest(cp.anonymous, 'POST', '/v1/attest/join-token', { token, csr: 'x'.repeat(200) }), failsWith('IL_ERR_CSR_INVALID', 'csr'));
    assert.equal((await attestWith('/v1/attest/join-token', { token })).spiffeId, frontendEntry.spiffeId);
  });

  test('a Kubernetes service-account token gets the SVID of the entry its namespace and account select', async () => {
    const issued = await attestWith('/v1/attest/k8s', { cluster: 'east', token: await k8s.mintToken('shop', 'frontend') });
    assert.equal(issued.spiffeId, frontendEntry.spiffeId);
  });

  test('a Kubernetes token signed by the wrong key, for the wrong audience, or for an unregistered account is refused', async () => {
    const stranger = await createFakeApiServer('east');
    await assert.rejects(attestWith('/v1/attest/k8s', { cluster: 'east', token: await stranger.mintToken('shop', 'frontend') }), failsWith('IL_ERR_ATTESTATION_K8S_INVALID'));
    await assert.rejects(attestWith('/v1/attest/k8s', { cluster: 'east', token: await k8s.mintToken('shop', 'frontend', { audience: 'vault' }) }), failsWith('IL_ERR_ATTESTATION_K8S_INVALID'));
    await assert.rejects(attestWith('/v1/attest/k8s', { cluster: 'east', token: await k8s.mintToken('shop', 'intruder') }), failsWith('IL_ERR_ATTESTATION_NO_ENTRY'));
  });

  test('the SDK renews over mTLS with its current SVID, gets JWT-SVIDs, and a revoked SVID cannot renew', async () => {
    const identity = await WorkloadIdentity.attest({ server: cp.server.url, bundlePem: cp.anonymous.bundlePem, serverId: cp.server.spiffeId, attestation: { kind: 'k8s', cluster: 'east', token: () => k8s.mintToken('shop', 'frontend') } });
    try {
      const first = identity.current.serial;
      const rotated = new Promise((resolve) => identity.once('rotated', resolve));
      const renewed = await identity.renewNow();
      await rotated;
      assert.notEqual(renewed.serial, first);
      assert.equal(renewed.spiffeId, frontendEntry.spiffeId);

      const asWorkload = { ...cp.anonymous, certPem: identity.current.certPem, keyPem: identity.current.keyPem };
      const jwt = (await apiRequest<{ token: string }>(asWorkload, 'POST', '/v1/svid/jwt', { audience: ['billing'] })).body.token;
      const bundle = await cp.call<{ keys: Array<{ use: string }> }>('GET', '/v1/bundle');
      // SPIFFE marks JWT keys use "jwt-svid"; jose only accepts "sig" or none, so drop it for jose.
      const jwks = createLocalJWKSet({ keys: bundle.keys.filter((k) => k.use === 'jwt-svid').map(({ use: _use, ...key }) => key) } as never);
      const { payload } = await jwtVerify(jwt, jwks, { audience: 'billing' });
      assert.equal(payload.sub, frontendEntry.spiffeId);
      assert.ok(payload.jti);
      assert.ok(payload.exp! - payload.iat! <= 300);

      const custodian = await cp.adminWith('kc-renew', ['key-custodian']);
      await cp.call('POST', `/v1/svids/${renewed.serial}/revoke`, { reason: 'test' }, custodian);
      await assert.rejects(identity.renewNow(), failsWith('IL_ERR_SVID_REVOKED'));
    } finally {
      identity.close();
    }
  });

  test('revoking by SPIFFE ID takes every still-valid SVID of it, once; by cluster, all the rest', async () => {
    const custodian = await cp.adminWith('kc-bulk', ['key-custodian']);
    await attestWith('/v1/attest/k8s', { cluster: 'east', token: await k8s.mintToken('shop', 'frontend') });
    const valid = await cp.call<Array<{ serial: string; revokedAt: string | null }>>('GET', `/v1/svids?spiffeId=${encodeURIComponent(frontendEntry.spiffeId)}&valid=true&revoked=false`, undefined, custodian);
    assert.ok(valid.length >= 2);
    const byId = await cp.call<{ count: number; revoked: string[] }>('POST', '/v1/revocations', { spiffeId: frontendEntry.spiffeId, reason: 'rotate everything' }, custodian);
    assert.deepEqual(byId.revoked.sort(), valid.map((s) => s.serial).sort());
    assert.equal((await cp.call<{ count: number }>('POST', '/v1/revocations', { spiffeId: frontendEntry.spiffeId, reason: 'again' }, custodian)).count, 0);
    await assert.rejects(cp.call('POST', '/v1/revocations', { reason: 'which?' }, custodian), failsWith('IL_ERR_REQUEST_INVALID'));
    await assert.rejects(cp.call('POST', '/v1/revocations', { cluster: 'nowhere', reason: 'x' }, custodian), failsWith('IL_ERR_CLUSTER_UNKNOWN'));
  });

  test('renewal and JWT-SVIDs need a client SVID', async () => {
    await assert.rejects(apiRequest(cp.anonymous, 'POST', '/v1/svid/renew', { csr: await createCsr(await generateKeyPair()) }), failsWith('IL_ERR_AUTHN_REQUIRED'));
    await assert.rejects(apiRequest(cp.admin, 'POST', '/v1/svid/jwt', { audience: ['x'] }), failsWith('IL_ERR_AUTHN_REQUIRED'));
  });

  test('the bundle endpoint serves the SPIFFE bundle with a refresh hint, without authentication', async () => {
    const bundle = await cp.call<{ keys: Array<{ use: string; x5c?: string[] }>; spiffe_refresh_hint: number; spiffe_sequence: number }>('GET', '/v1/bundle', undefined, cp.anonymous);
    assert.ok(bundle.keys.some((k) => k.use === 'x509-svid' && k.x5c?.length === 1));
    assert.equal(bundle.spiffe_refresh_hint, 300);
  });

  test('bad input is a 400 with IL_ERR_REQUEST_INVALID naming the field', async () => {
    await assert.rejects(cp.call('POST', '/v1/entries', { cluster: 'east' }), failsWith('IL_ERR_REQUEST_INVALID', 'body.spiffeId'));
    await assert.rejects(cp.call('POST', '/v1/entries', { cluster: 'east', spiffeId: 'spiffe://east.acme.internal/x', colour: 'red' }), failsWith('IL_ERR_REQUEST_INVALID', 'body.colour'));
    await assert.rejects(cp.call('POST', '/v1/entries', { cluster: 'east', spiffeId: 'spiffe://west.acme.internal/x' }), failsWith('IL_ERR_SPIFFE_ID_OUT_OF_DOMAIN', 'spiffeId'));
    await assert.rejects(cp.call('POST', '/v1/entries', { cluster: 'east', spiffeId: 'spiffe://east.acme.internal//x' }), failsWith('IL_ERR_SPIFFE_ID_INVALID', 'spiffeId'));
    await assert.rejects(cp.call('GET', '/v1/nothing-here'), failsWith('IL_ERR_NOT_FOUND'));
  });
});
