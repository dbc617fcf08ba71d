import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import type { TLSSocket } from 'node:tls';
import { TrustState } from '../../src/gateway/trust-state.ts';
import { authorityKeyIdOf } from '../../src/gateway/certificate-facts.ts';
import { silentLogger } from '../../src/telemetry/logger.ts';
import { makePki, makeSvid } from '../helpers/pki.ts';
import { x509 } from '../../src/pki/x509.ts';

const authority = (serial: string, keyId: string, kind: 'root' | 'cluster' = 'cluster') => ({ serial, keyId, kind, cluster: kind === 'cluster' ? 'east' : null, status: 'active' as const, notAfter: '2030-01-01T00:00:00Z' });

function fakeSocket(): TLSSocket & { destroyed: boolean } {
  const socket = new EventEmitter() as unknown as TLSSocket & { destroyed: boolean };
  socket.destroyed = false;
  (socket as unknown as { destroy: () => void }).destroy = () => {
    socket.destroyed = true;
    socket.emit('close');
  };
  return socket;
}

test('a gateway without a control plane does not check intermediates', () => {
  const trust = new TrustState('roots', silentLogger());
  assert.equal(trust.refusal(undefined), undefined);
  assert.equal(trust.refusal('ab'), undefined);
});

test('only CAs in the trust document are accepted; a root key id is not a valid signer of an SVID', () => {
  const trust = new TrustState('roots', silentLogger());
  trust.apply({ version: 1, rootsPem: 'roots', authorities: [authority('01', 'AA', 'root'), authority('02', 'bb')] });
  assert.equal(trust.refusal('bb'), undefined);
  assert.match(trust.refusal('cc')!, /not in the trust bundle/);
  assert.match(trust.refusal('aa')!, /not in the trust bundle/);
  assert.match(trust.refusal(undefined)!, /no Authority Key Identifier/);
  assert.deepEqual(trust.serials(), ['1', '2']);
});

test('withdrawing a CA closes the connections whose peer it signed, and only those; new roots are announced', () => {
  const trust = new TrustState('old-roots', silentLogger());
  const announced: string[] = [];
  trust.onRootsChanged((pem) => announced.push(pem));
  trust.apply({ version: 1, rootsPem: 'old-roots', authorities: [authority('02', 'bb'), authority('03', 'cc')] });
  const underB = fakeSocket();
  const underC = fakeSocket();
  trust.track(underB, 'bb');
  trust.track(underC, 'cc');
  const outcome = trust.apply({ version: 2, rootsPem: 'new-roots', authorities: [authority('03', 'cc')] });
  assert.deepEqual(outcome, { withdrawn: ['2'], closed: 1 });
  assert.equal(underB.destroyed, true);
  assert.equal(underC.destroyed, false);
  assert.deepEqual(announced, ['new-roots']);
  assert.match(trust.refusal('bb')!, /not in the trust bundle/);
});

test("an SVID's signing CA is read from its Authority Key Identifier", async () => {
  const pki = await makePki();
  const { cert: svid } = await makeSvid(pki.east, 'spiffe://east.acme.internal/ns/shop/sa/frontend');
  const ski = pki.east.cert.getExtension(x509.SubjectKeyIdentifierExtension)!.keyId.toLowerCase();
  assert.equal(authorityKeyIdOf(Buffer.from(svid.rawData)), ski);
  assert.equal(authorityKeyIdOf(Buffer.from('not a certificate')), undefined);
});
