import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { InterlockError, type ErrorCode } from '../../src/errors.ts';
import { apiRequest } from '../../src/client/api.ts';
import { createCsr } from '../../src/pki/csr.ts';
import { generateKeyPair } from '../../src/pki/x509.ts';
import { createFakeApiServer, type FakeApiServer } from '../../src/lab/fake-kubernetes.ts';
import { startTestControlPlane, type TestControlPlane } from '../helpers/control-plane.ts';
import { runCliAsync } from '../helpers/cli.ts';
import { tempDir } from '../helpers/pki.ts';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

function failsWith(code: ErrorCode) {
  return (error: unknown) => {
    assert.ok(error instanceof InterlockError, String(error));
    assert.equal(error.code, code, error.message);
    return true;
  };
}

/**
 * The production path of Kubernetes attestation: the control plane fetches
 * the cluster's service-account keys from the API server's JWKS endpoint (or
 * finds it by OIDC discovery) over TLS 1.3 with the API server's own CA,
 * and follows the API server's key rotation by itself.
 */
describe('Kubernetes token keys fetched from the API server', () => {
  let cp: TestControlPlane;
  const servers: FakeApiServer[] = [];
  const apiServer = async (cluster: string, options: { issuer?: 'self' } = {}) => {
    const server = await createFakeApiServer(cluster, options);
    servers.push(server);
    return server;
  };

  before(async () => {
    cp = await startTestControlPlane();
  });
  after(async () => {
    await Promise.all(servers.map((s) => s.close()));
    await cp?.close();
  });

  const addCluster = async (name: string, k8s: Record<string, unknown>, namespace = 'shop', serviceAccount = 'frontend') => {
    await cp.call('POST', '/v1/clusters', { name, k8s });
    await cp.call('POST', '/v1/entries', { cluster: name, spiffeId: `spiffe://${name}.acme.internal/ns/${namespace}/sa/${serviceAccount}`, namespace, serviceAccount, ttlSeconds: 600 });
  };
  const attest = async (cluster: string, token: string) => {
    const csr = await createCsr(await generateKeyPair());
    return (await apiRequest<{ spiffeId: string }>(cp.anonymous, 'POST', '/v1/attest/k8s', { cluster, token, csr })).body;
  };

  test('jwksUri with the API server CA: a token is accepted; after the API server rotates its key, tokens from the new key are accepted without an operator', async () => {
    const k8s = await apiServer('north');
    await addCluster('north', { issuer: k8s.issuer, jwksUri: k8s.jwksUri, caPem: k8s.caPem });
    assert.equal((await attest('north', await k8s.mintToken('shop', 'frontend'))).spiffeId, 'spiffe://north.acme.internal/ns/shop/sa/frontend');
    await k8s.rotateKey();
    // jose refetches a JWKS for an unknown key id at most every 5 s (cooldown); the next token is the rotated key's.
    const token = await k8s.mintToken('shop', 'frontend');
    let accepted = false;
    for (let i = 0; i < 40 && !accepted; i++) {
      accepted = await attest('north', token).then(() => true, () => false);
      if (!accepted) await new Promise((r) => setTimeout(r, 250));
    }
    assert.equal(accepted, true, 'a token of the rotated key was never accepted');
    const clusters = await cp.call<Array<{ name: string; k8sKeys: string }>>('GET', '/v1/clusters');
    assert.match(clusters.find((c) => c.name === 'north')!.k8sKeys, /^JWKS from https:\/\/127\.0\.0\.1:\d+\/openid\/v1\/jwks \(private CA\)$/);
  });

  test('OIDC discovery from the issuer finds the JWKS; a discovery document naming another issuer is refused', async () => {
    const k8s = await apiServer('south', { issuer: 'self' });
    await addCluster('south', { issuer: k8s.issuer, oidcDiscovery: true, caPem: k8s.caPem });
    assert.equal((await attest('south', await k8s.mintToken('shop', 'frontend'))).spiffeId, 'spiffe://south.acme.internal/ns/shop/sa/frontend');
    const liar = await apiServer('liar', { issuer: 'self' });
    // The cluster claims an issuer whose discovery document (served by liar) says otherwise.
    await addCluster('liar', { issuer: `${liar.issuer}/`, oidcDiscovery: true, caPem: liar.caPem });
    await assert.rejects(attest('liar', await liar.mintToken('shop', 'frontend')), failsWith('IL_ERR_ATTESTATION_K8S_INVALID'));
  });

  test('fail closed: an API server whose certificate the CA does not vouch for, or that is down, gets no token accepted', async () => {
    const k8s = await apiServer('east');
    const other = await apiServer('other');
    await addCluster('east', { issuer: k8s.issuer, jwksUri: k8s.jwksUri, caPem: other.caPem });
    await assert.rejects(attest('east', await k8s.mintToken('shop', 'frontend')), failsWith('IL_ERR_ATTESTATION_K8S_INVALID'));
    const gone = await apiServer('west');
    await addCluster('west', { issuer: gone.issuer, jwksUri: gone.jwksUri, caPem: gone.caPem });
    await gone.close();
    await assert.rejects(attest('west', await gone.mintToken('shop', 'frontend')), failsWith('IL_ERR_ATTESTATION_K8S_INVALID'));
  });

  test('a source that is not exactly one of jwks, jwksUri, oidcDiscovery, or a plain-http URL, is refused with the field named', async () => {
    const k8s = await apiServer('bad');
    for (const [k8sBody, field] of [
      [{ issuer: k8s.issuer }, 'k8s'],
      [{ issuer: k8s.issuer, jwks: k8s.jwks, jwksUri: k8s.jwksUri }, 'k8s'],
      [{ issuer: k8s.issuer, jwksUri: 'http://127.0.0.1/openid/v1/jwks' }, 'k8s.jwksUri'],
      [{ issuer: k8s.issuer, jwksUri: k8s.jwksUri, caPem: 'not a certificate' }, 'k8s.caPem'],
    ] as const) {
      await assert.rejects(apiRequest(cp.admin, 'POST', '/v1/clusters', { name: 'bad', k8s: k8sBody }), (error: unknown) => {
        assert.ok(error instanceof InterlockError);
        assert.equal(error.code, 'IL_ERR_REQUEST_INVALID', error.message);
        assert.equal(error.field, field);
        return true;
      });
    }
  });

  test('declarative apply checks the key source as the API does: a plain-http jwksUri is refused and nothing is created', async () => {
    const desired = { clusters: [{ name: 'sneaky', trustDomain: null, k8s: { issuer: 'https://issuer.example', jwks: { jwksUri: 'http://169.254.169.254/latest/meta-data' } } }], entries: [], services: [], policies: [], admins: [] };
    const plan = await cp.call<{ base: unknown }>('POST', '/v1/config/plan', { desired });
    await assert.rejects(apiRequest(cp.admin, 'POST', '/v1/config/apply', { desired, base: plan.base }), (error: unknown) => {
      assert.ok(error instanceof InterlockError);
      assert.equal(error.code, 'IL_ERR_REQUEST_INVALID', error.message);
      assert.match(String(error.field), /k8s\.jwksUri$/);
      return true;
    });
    const clusters = await cp.call<Array<{ name: string }>>('GET', '/v1/clusters');
    assert.ok(!clusters.some((c) => c.name === 'sneaky'));
  });

  test('interlock cluster set-k8s moves a cluster to another key source', async () => {
    const first = await apiServer('centre');
    await addCluster('centre', { issuer: first.issuer, jwks: first.jwks });
    const second = await apiServer('centre');
    const dir = tempDir('interlock-k8s-keys-');
    const tokenFile = join(dir, 'admin.token');
    writeFileSync(tokenFile, cp.admin.token + '\n', { mode: 0o600 });
    const caFile = join(dir, 'api-ca.pem');
    writeFileSync(caFile, second.caPem);
    const bundleFile = join(dir, 'bundle.pem');
    writeFileSync(bundleFile, cp.anonymous.bundlePem);
    await assert.rejects(attest('centre', await second.mintToken('shop', 'frontend')), failsWith('IL_ERR_ATTESTATION_K8S_INVALID'));
    const result = await runCliAsync(['cluster', 'set-k8s', 'centre', '--k8s-issuer', second.issuer, '--k8s-jwks-uri', second.jwksUri, '--k8s-ca-file', caFile, '--server', cp.server.url, '--ca-file', bundleFile, '--token-file', tokenFile]);
    assert.equal(result.status, 0, result.stderr);
    assert.match(result.stdout, /cluster centre: Kubernetes tokens from .* are verified with the new keys/);
    assert.equal((await attest('centre', await second.mintToken('shop', 'frontend'))).spiffeId, 'spiffe://centre.acme.internal/ns/shop/sa/frontend');
    const usage = await runCliAsync(['cluster', 'set-k8s', 'centre', '--k8s-issuer', second.issuer, '--server', cp.server.url, '--ca-file', bundleFile, '--token-file', tokenFile]);
    assert.equal(usage.status, 2);
    assert.match(usage.stderr, /IL_ERR_USAGE: give exactly one of --k8s-jwks, --k8s-jwks-uri or --k8s-oidc-discovery/);
  });
});
