import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fixedClock } from '../../src/clock.ts';
import { CircuitBreaker } from '../../src/gateway/circuit-breaker.ts';

test('opens after the threshold of consecutive failures, lets one probe through after the cooldown, closes on success', () => {
  const clock = fixedClock('2026-11-25T12:00:00Z');
  const breaker = new CircuitBreaker({ failureThreshold: 3, cooldownMs: 5_000 }, clock);
  for (let i = 0; i < 2; i++) {
    assert.equal(breaker.allow(), true);
    breaker.failure();
  }
  breaker.success(); // a success in between resets the count
  for (let i = 0; i < 3; i++) breaker.failure();
  assert.equal(breaker.state, 'open');
  assert.equal(breaker.allow(), false);
  assert.equal(breaker.retryInMs, 5_000);
  clock.set('2026-11-25T12:00:05Z');
  assert.equal(breaker.state, 'half-open');
  assert.equal(breaker.allow(), true);
  assert.equal(breaker.allow(), false, 'only one probe at a time');
  breaker.success();
  assert.equal(breaker.state, 'closed');
  assert.equal(breaker.allow(), true);
});

test('a failed probe reopens the breaker for a full cooldown', () => {
  const clock = fixedClock('2026-11-25T12:00:00Z');
  const breaker = new CircuitBreaker({ failureThreshold: 1, cooldownMs: 1_000 }, clock);
  breaker.failure();
  clock.set('2026-11-25T12:00:01Z');
  assert.equal(breaker.allow(), true);
  breaker.failure();
  assert.equal(breaker.state, 'open');
  assert.equal(breaker.retryInMs, 1_000);
});
