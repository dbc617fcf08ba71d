import { test } from 'node:test';
import assert from 'node:assert/strict';
import { evaluateGateway, type GatewayHealth } from '../../src/gateway/checks.ts';

const NOW = Date.parse('2026-11-25T12:00:00Z');
const at = (offsetMs: number) => new Date(NOW + offsetMs).toISOString();
const HOUR = 3_600_000;

function health(overrides: Partial<GatewayHealth> = {}): GatewayHealth {
  return {
    cluster: 'east',
    time: at(0),
    identity: { spiffeId: 'spiffe://east.acme.internal/ns/interlock-system/sa/interlock-gateway', serial: '01', issuerSerial: 'aa', notBefore: at(-10 * 60_000), notAfter: at(50 * 60_000) },
    trustBundle: { roots: 1, earliestExpiry: at(365 * 24 * HOUR) },
    policy: { state: 'fresh', source: 'control-plane', enforcedVersion: 3, activeVersion: 3, candidateVersion: null, candidateMode: null, expiresAt: at(20 * HOUR), evaluated: 0, disagreements: 0, allowToDeny: 0, denyToAllow: 0 },
    peers: [{ cluster: 'west', address: '127.0.0.1:1', ok: true, ms: 3 }],
    trust: { version: 7, checksIntermediates: true, isolated: [], authorities: [], syncedAt: at(-5_000) },
    alerts: [],
    ...overrides,
  } as GatewayHealth;
}

const failing = (h: GatewayHealth) => evaluateGateway(h, NOW).filter((c) => !c.ok).map((c) => c.name);

test('a healthy gateway passes every check', () => {
  assert.deepEqual(failing(health()), []);
});

test('an SVID with under a quarter of its life left fails before it expires: renewal is overdue', () => {
  assert.deepEqual(failing(health({ identity: { spiffeId: 'x', serial: '02', issuerSerial: 'aa', notBefore: at(-50 * 60_000), notAfter: at(10 * 60_000) } })), ['gateway SVID']);
});

test('an expired or unavailable policy bundle fails; so does a bundle root expiring within 30 days', () => {
  assert.deepEqual(failing(health({ policy: { ...health().policy, state: 'expired' } })), ['policy bundle']);
  assert.deepEqual(failing(health({ trustBundle: { roots: 1, earliestExpiry: at(10 * 24 * HOUR) } })), ['trust bundle']);
});

test('clock skew over 5 s and a failed peer handshake fail', () => {
  assert.deepEqual(failing(health({ time: at(6_000) })), ['clock skew']);
  assert.deepEqual(failing(health({ peers: [{ cluster: 'west', address: '127.0.0.1:1', ok: false, ms: 1, error: 'ECONNREFUSED' }] })), ['mTLS to west']);
});

test('an expiry alert fails its own line; a trust document never synced fails', () => {
  const alert = { what: 'policy bundle v3', expiresAt: at(60_000), leftMs: 60_000, message: 'policy bundle v3 expires in 60 s' };
  assert.deepEqual(failing(health({ alerts: [alert] })), ['expiry: policy bundle v3']);
  assert.deepEqual(failing(health({ trust: { version: 0, checksIntermediates: true, isolated: [], authorities: [], syncedAt: null } })), ['trust document']);
  const isolated = evaluateGateway(health({ trust: { ...health().trust, isolated: ['west'] } }), NOW).find((c) => c.name === 'trust document')!;
  assert.match(isolated.detail, /isolated: west/);
});
