import { test } from 'node:test';
import assert from 'node:assert/strict';
import { expiryAlerts } from '../../src/gateway/expiry-watch.ts';

const item = (what: string, fromMs: number, toMs: number) => ({ what, notBefore: new Date(fromMs), notAfter: new Date(toMs) });

test('no alert while more than a third of the lifetime is left (renewal happens at half life)', () => {
  assert.deepEqual(expiryAlerts([item('svid', 0, 90_000)], new Date(59_000)), []);
});

test('an alert once a third or less is left, naming what and when', () => {
  const [alert] = expiryAlerts([item('gateway SVID', 0, 90_000), item('policy bundle v3', 0, 1_000_000)], new Date(61_000));
  assert.equal(alert!.what, 'gateway SVID');
  assert.equal(alert!.leftMs, 29_000);
  assert.match(alert!.message, /expires in 29 s .* control plane reachable/);
});

test('an expired item is still reported, with nothing left', () => {
  const [alert] = expiryAlerts([item('policy bundle v3', 0, 10_000)], new Date(12_000));
  assert.equal(alert!.leftMs, 0);
  assert.match(alert!.message, /expired at/);
});
