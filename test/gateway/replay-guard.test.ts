import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ReplayGuard } from '../../src/gateway/replay-guard.ts';

const code = (expected: string) => (error: unknown) => (error as { code?: string }).code === expected;

test('a token is accepted once while valid, and again only after it has expired and been forgotten', () => {
  const guard = new ReplayGuard();
  guard.check('a', 60_000, 0);
  assert.throws(() => guard.check('a', 60_000, 30_000), code('IL_ERR_REPLAY_DETECTED'));
  guard.check('b', 60_000, 30_000);
  assert.equal(guard.size, 2);
  // Past its expiry the token is refused by its own validity check; the guard forgets it.
  guard.check('c', 200_000, 61_000);
  assert.equal(guard.size, 1);
});

test('memory is bounded: at capacity new tokens are refused (fail closed), and room returns as tokens expire', () => {
  const guard = new ReplayGuard(1_000);
  for (let i = 0; i < 1_000; i++) guard.check(`t${i}`, 10_000 + i, 0);
  assert.throws(() => guard.check('one-too-many', 10_000, 0), code('IL_ERR_REPLAY_GUARD_FULL'));
  guard.check('later', 20_000, 12_000);
  assert.equal(guard.size, 1);
});
