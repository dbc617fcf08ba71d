import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { fixedClock } from '../../src/clock.ts';
import { InterlockError } from '../../src/errors.ts';
import { parseWorkloadSpiffeId } from '../../src/identity/spiffe-id.ts';
import { checkPeerCertificateCurrent } from '../../src/gateway/connection-lifetime.ts';
import { verifiedAgent } from '../../src/gateway/verified-agent.ts';
import { RevocationList } from '../../src/gateway/revocations.ts';
import { TrustState } from '../../src/gateway/trust-state.ts';
import { certificatesToPem } from '../../src/pki/x509.ts';
import { silentLogger } from '../../src/telemetry/logger.ts';
import { makePki, makeSvid } from '../helpers/pki.ts';

const SERVER_ID = 'spiffe://west.acme.internal/ns/billing/sa/billing';
const CLIENT_ID = 'spiffe://east.acme.internal/ns/interlock-system/sa/interlock-gateway';

/**
 * The gateway's own pooled connections are closed before a certificate on
 * them expires (5 s early), never under a request in flight: here the client
 * certificate expires 6.5 s after the test starts, so pooled connections are
 * retired about 1.5 s in.
 */
describe('pooled connections are retired before their certificates expire', () => {
  let server: https.Server;
  let agent: https.Agent;
  let port: number;
  let expiresAt: number;
  const opened: TLSSocket[] = [];

  before(async () => {
    const pki = await makePki(new Date(Date.now() - 60_000));
    const rootsPem = certificatesToPem([pki.root.cert]);
    const serving = await makeSvid(pki.west, SERVER_ID, { ttlMs: 3_600_000 });
    // Issued 8.5 s ago for 15 s: 6.5 s left.
    const issuedAt = new Date(Date.now() - 8_500);
    const client = await makeSvid(pki.east, CLIENT_ID, { at: issuedAt, ttlMs: 15_000 });
    expiresAt = client.cert.notAfter.getTime();
    server = https.createServer({ cert: serving.certPem, key: serving.keyPem, ca: rootsPem, requestCert: true, rejectUnauthorized: true, minVersion: 'TLSv1.3' }, (req, res) => {
      const delay = req.url === '/slow' ? 2_500 : 0;
      setTimeout(() => res.end('ok'), delay);
    });
    server.on('secureConnection', (socket: TLSSocket) => opened.push(socket));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
    const log = silentLogger();
    agent = verifiedAgent({
      identity: { certPem: client.certPem, keyPem: client.keyPem, bundlePem: rootsPem, spiffeId: parseWorkloadSpiffeId(CLIENT_ID) },
      expectedId: SERVER_ID,
      revocations: new RevocationList(log),
      trust: new TrustState(rootsPem, log),
      what: 'the test server',
    });
  });
  after(() => {
    agent?.destroy();
    server?.closeAllConnections();
    server?.close();
  });

  const get = (path: string) =>
    new Promise<{ status: number; socket: TLSSocket }>((resolve, reject) => {
      const request = https.get({ host: '127.0.0.1', port, path, agent }, (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode ?? 0, socket: request.socket as TLSSocket }));
      });
      request.on('error', reject);
    });
  const closed = (socket: TLSSocket) => new Promise<number>((resolve) => (socket.destroyed ? resolve(Date.now()) : socket.once('close', () => resolve(Date.now()))));

  test('an idle pooled connection is closed before the certificate expires, and a request in flight on another one completes first', async () => {
    const idle = await get('/');
    assert.equal(idle.status, 200);
    // Two requests at once: the second gets its own connection, busy across the retirement time.
    const [quick, slow] = await Promise.all([get('/'), get('/slow')]);
    assert.equal(quick.status, 200);
    assert.equal(slow.status, 200, 'the request in flight when its connection was retired still completed');
    const idleClosedAt = await closed(idle.socket);
    const slowClosedAt = await closed(slow.socket);
    assert.ok(idleClosedAt < expiresAt, 'the idle connection closed before the certificate expired');
    assert.ok(slowClosedAt < expiresAt, 'the busy connection closed once its request ended, before expiry');
    assert.equal(Object.values(agent.freeSockets).flat().length, 0, 'nothing with a certificate about to expire stays pooled');
  });

  test('a listener refuses a request on a connection whose client certificate has expired', () => {
    const socket = { getPeerCertificate: () => ({ valid_to: 'Nov 25 10:00:00 2026 GMT' }) } as unknown as TLSSocket;
    assert.doesNotThrow(() => checkPeerCertificateCurrent(socket, fixedClock(new Date('2026-11-25T09:59:59Z'))));
    assert.throws(
      () => checkPeerCertificateCurrent(socket, fixedClock(new Date('2026-11-25T10:00:00Z'))),
      (error: unknown) => error instanceof InterlockError && error.code === 'IL_ERR_CERT_EXPIRED' && error.field === 'peerCertificate',
    );
  });
});
