import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { WorkloadIdentity } from '../../src/workload/identity.ts';
import type { InterlockError } from '../../src/errors.ts';
import { createFakeApiServer, type FakeApiServer } from '../../src/lab/fake-kubernetes.ts';
import { startTestControlPlane, type TestControlPlane } from '../helpers/control-plane.ts';

/** A TCP forwarder to the control plane that the test can cut and restore, on the same port. */
function breakableProxy(target: { host: string; port: number }) {
  const sockets = new Set<net.Socket>();
  let server: net.Server | undefined;
  let port = 0;
  const listen = () =>
    new Promise<void>((resolve) => {
      server = net.createServer((client) => {
        const upstream = net.connect(target.port, target.host);
        sockets.add(client).add(upstream);
        client.pipe(upstream).pipe(client);
        const drop = () => {
          client.destroy();
          upstream.destroy();
        };
        client.on('error', drop).on('close', drop);
        upstream.on('error', drop).on('close', drop);
      });
      server.listen(port, '127.0.0.1', () => {
        port = (server!.address() as AddressInfo).port;
        resolve();
      });
    });
  return {
    listen,
    get url() {
      return `https://127.0.0.1:${port}`;
    },
    cut: () =>
      new Promise<void>((resolve) => {
        sockets.forEach((s) => s.destroy());
        server!.close(() => resolve());
      }),
  };
}

describe('workload SDK', () => {
  let cp: TestControlPlane;
  let k8s: FakeApiServer;

  before(async () => {
    cp = await startTestControlPlane();
    k8s = await createFakeApiServer('east');
    await cp.call('POST', '/v1/clusters', { name: 'east', k8s: { jwks: k8s.jwks, issuer: k8s.issuer } });
    await cp.call('POST', '/v1/entries', { cluster: 'east', spiffeId: 'spiffe://east.acme.internal/ns/shop/sa/frontend', namespace: 'shop', serviceAccount: 'frontend', ttlSeconds: 600 });
  });
  after(() => cp?.close());

  test('renews by itself at half the SVID life', async () => {
    // A clock six minutes ahead: a 10-minute SVID is past half-life at once.
    const ahead = { now: () => new Date(Date.now() + 6 * 60_000) };
    const identity = await WorkloadIdentity.attest({
      server: cp.server.url,
      bundlePem: cp.anonymous.bundlePem,
      clock: ahead,
      attestation: { kind: 'k8s', cluster: 'east', token: () => k8s.mintToken('shop', 'frontend') },
    });
    try {
      const first = identity.current.serial;
      const rotated = await new Promise<{ serial: string }>((resolve) => identity.once('rotated', resolve));
      assert.notEqual(rotated.serial, first);
      assert.equal(identity.current.serial, rotated.serial);
    } finally {
      identity.close();
    }
  });

  test('a workload on a fresh SVID does not renew early', async () => {
    const identity = await WorkloadIdentity.attest({ server: cp.server.url, bundlePem: cp.anonymous.bundlePem, attestation: { kind: 'k8s', cluster: 'east', token: () => k8s.mintToken('shop', 'frontend') } });
    try {
      let rotations = 0;
      identity.on('rotated', () => rotations++);
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(rotations, 0);
    } finally {
      identity.close();
    }
  });

  test('while the control plane is unreachable it retries with growing backoff, and renews once it is back', async () => {
    const url = new URL(cp.server.url);
    const proxy = breakableProxy({ host: url.hostname, port: Number(url.port) });
    await proxy.listen();
    const ahead = { now: () => new Date(Date.now() + 6 * 60_000) }; // past half-life: renewal is due at once
    const identity = await WorkloadIdentity.attest({
      server: proxy.url,
      bundlePem: cp.anonymous.bundlePem,
      clock: ahead,
      retry: { initialMs: 20, maxMs: 200 },
      attestation: { kind: 'k8s', cluster: 'east', token: () => k8s.mintToken('shop', 'frontend') },
    });
    // Cut before the due renewal's timer fires (no await between attest and cut).
    const cutting = proxy.cut();
    try {
      const first = identity.current.serial;
      let expired = false;
      identity.on('expired', () => (expired = true));
      const failures: Array<{ code: string; retryInMs: number }> = [];
      await new Promise<void>((resolve) =>
        identity.on('renewal-failed', (error: InterlockError, { retryInMs }) => {
          failures.push({ code: error.code, retryInMs });
          if (failures.length === 3) resolve();
        }),
      );
      await cutting;
      assert.deepEqual(failures.map((f) => f.code), ['IL_ERR_PEER_UNAVAILABLE', 'IL_ERR_PEER_UNAVAILABLE', 'IL_ERR_PEER_UNAVAILABLE']);
      assert.ok(failures[0]!.retryInMs < failures[1]!.retryInMs && failures[1]!.retryInMs < failures[2]!.retryInMs, JSON.stringify(failures));
      assert.equal(expired, false, 'the SVID is still valid, so it must not be reported expired');
      const rotated = new Promise<{ serial: string }>((resolve) => identity.once('rotated', resolve));
      await proxy.listen();
      assert.notEqual((await rotated).serial, first);
    } finally {
      identity.close();
      await proxy.cut().catch(() => undefined);
    }
  });
});
