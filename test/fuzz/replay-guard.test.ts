import assert from 'node:assert/strict';
import fc from 'fast-check';
import { InterlockError } from '../../src/errors.ts';
import { ReplayGuard } from '../../src/gateway/replay-guard.ts';
import { coded, fuzz } from './harness.ts';

const CODES = ['IL_ERR_REPLAY_DETECTED', 'IL_ERR_REPLAY_GUARD_FULL'] as const;

/** One call to check(): the id, its token's expiry and the clock, in ms; the clock only moves forward. */
const call = fc.record({
  id: fc.oneof(fc.constantFrom('a', 'b', 'c', 'constructor', '__proto__', ''), fc.string({ maxLength: 8 })),
  ttlMs: fc.integer({ min: -5_000, max: 120_000 }),
  stepMs: fc.integer({ min: 0, max: 3_000 }),
});

/**
 * Model: an accepted id is remembered until the second its token expires has
 * passed (so a replay while the token is still valid is always caught); an id
 * not remembered is accepted unless the guard holds `capacity` ids, then it is
 * refused (fail closed). The guard must match the model call for call.
 */
fuzz('ReplayGuard: any sequence of checks matches the model: every replay of a valid token caught, never over capacity', [fc.array(call, { maxLength: 200 }), fc.integer({ min: 1, max: 50 })], async (calls, capacity) => {
  const guard = new ReplayGuard(capacity);
  const remembered = new Map<string, number>();
  let now = 1_700_000_000_000;
  for (const { id, ttlMs, stepMs } of calls) {
    now += stepMs;
    const expiresAt = now + ttlMs;
    for (const [known, until] of remembered) if (until < now) remembered.delete(known);
    const expected = remembered.has(id) ? 'IL_ERR_REPLAY_DETECTED' : remembered.size >= capacity ? 'IL_ERR_REPLAY_GUARD_FULL' : 'accepted';
    let outcome = 'accepted';
    await coded(() => {
      try {
        guard.check(id, expiresAt, now);
      } catch (error) {
        outcome = (error as InterlockError).code;
        throw error;
      }
    }, CODES);
    assert.equal(outcome, expected, `check(${JSON.stringify(id)}) at +${now - 1_700_000_000_000} ms`);
    if (outcome === 'accepted') remembered.set(id, Math.ceil(expiresAt / 1000) * 1000);
    assert.ok(guard.size <= capacity, `size ${guard.size} > capacity ${capacity}`);
    assert.equal(guard.size, remembered.size);
  }
}, { scale: 2 });

fuzz('ReplayGuard.check: any id, expiry and clock (NaN, ±Infinity, huge) is accepted or refused with a code', [fc.array(fc.tuple(fc.string({ maxLength: 6 }), fc.double(), fc.double()), { maxLength: 50 })], async (calls) => {
  const guard = new ReplayGuard(20);
  for (const [id, expiresAt, now] of calls) await coded(() => guard.check(id, expiresAt, now), CODES);
}, { scale: 2 });
