import { join } from 'node:path';
import { clockSkewEnv, libfaketimePath, setClockSkew } from '../../faults.ts';
import { successesAfter, waitFor } from '../load.ts';
import type { ChaosExperiment } from '../types.ts';
import { codesOf } from './common.ts';

const PHASE_MS = 4_000;

/**
 * The receiving gateway's clock is moved, not the sender's: SVIDs live 15 s
 * in the chaos lab, so a sender far ahead would see every certificate as
 * expired and fail at the TLS layer first (certificates are backdated 30 s,
 * so a clock behind still accepts them). What is tested here is the
 * identity assertion's own skew rule (5 s, gateway/identity-assertion.ts).
 */
export const clockSkew: ChaosExperiment = {
  name: 'clock-skew',
  title: 'Clock skew on one gateway',
  hypothesis:
    "A gateway whose wall clock is 3 s behind still accepts its peers' identity assertions (5 s of skew is allowed); at 10 s behind it refuses them as dated in the future (IL_ERR_IDENTITY_ASSERTION_INVALID) — it fails closed, nothing is accepted; with its clock right again it serves within 5 s.",
  fault: `west's gateway clock set 3 s behind, then 10 s behind, ${PHASE_MS / 1000} s each (libfaketime), then right again`,
  recoveryBudgetMs: 5_000,
  lab: 'shared',
  // Not yet stable: libfaketime's re-read of the skew file lags when the clock jumps back, so phases bleed into each other.
  unavailable: () =>
    !libfaketimePath() ? 'libfaketime is not installed (apt-get install faketime)' : process.env.INTERLOCK_CHAOS_CLOCK_SKEW === '1' ? null : 'unstable (libfaketime skew changes lag); set INTERLOCK_CHAOS_CLOCK_SKEW=1 to run it',
  run: async (ctx) => {
    const skewFile = join(ctx.workDir, 'west-clock');
    setClockSkew(skewFile, 0);
    await ctx.world.restartGateway('west', { env: clockSkewEnv(skewFile) });
    const restartedAt = ctx.load.now();
    await waitFor(() => successesAfter(ctx.load.records, restartedAt).length >= 2, 10_000);
    const startedAt = ctx.load.now();
    const phase = async (offsetSeconds: number) => {
      setClockSkew(skewFile, offsetSeconds);
      const set = ctx.load.now();
      await ctx.sleep(PHASE_MS);
      const all = ctx.load.records.filter((r) => r.kind === 'allowed' && r.at >= set && r.at < ctx.load.now());
      // libfaketime re-reads the file at most once a second (seen to take longer when the clock jumps back): judge the calls after that.
      return { all, settled: all.filter((r) => r.at >= set + 2_500) };
    };
    const { settled: small } = await phase(-3);
    ctx.check('−3 s: calls succeed (within the 5 s tolerance)', small.length > 0 && small.every((r) => r.status === 200), `${small.filter((r) => r.status === 200).length}/${small.length} answered 200 (${codesOf(small.filter((r) => r.status !== 200))})`);
    const { all, settled: large } = await phase(-10);
    // After a few refusals east's circuit breaker for west opens (IL_ERR_PEER_CIRCUIT_OPEN, IL_ERR_PEER_UNAVAILABLE for its
    // half-open probe), and calls fail fast without reaching west: every call must still be refused with a code.
    ctx.check(
      '−10 s: every call refused, west refusing the assertions as dated in the future',
      large.length > 0 && large.every((r) => r.status !== 200 && r.errorCode !== undefined) && all.some((r) => r.errorCode === 'IL_ERR_IDENTITY_ASSERTION_INVALID'),
      `${large.length} calls once the skew applied: ${codesOf(large)}; in the whole phase: ${codesOf(all)}`,
    );
    setClockSkew(skewFile, 0);
    await ctx.sleep(1_100);
    return { startedAt, clearedAt: ctx.load.now(), mechanism: 'libfaketime (LD_PRELOAD, FAKETIME_TIMESTAMP_FILE) on the gateway process' };
  },
};
