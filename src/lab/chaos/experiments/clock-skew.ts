import { gatewaySpiffeId } from '../../../identity/spiffe-id.ts';
import { clockOffsetEnv, libfaketimePath } from '../../faults.ts';
import { callThroughGateway, createWorkloadAgent } from '../../workload-client.ts';
import { waitFor, type LoadRecord } from '../load.ts';
import type { ChaosExperiment, ExperimentContext } from '../types.ts';
import { SKEW_TEST_SVID_TTL_S, setSkewSvidLifetimes } from './clock-skew-svids.ts';
import { codesOf } from './common.ts';

/** Identity assertions allow this much skew (gateway/identity-assertion.ts CLOCK_SKEW_SECONDS). */
const ALLOWED_SKEW_S = 5;
const WITHIN_SKEW_S = -2;
const BEYOND_SKEW_S = -10;
/** How long each skew is held once east reaches the restarted gateway. */
const PHASE_MS = 4_000;
/** From west's readiness to east's first call answered by it: east's breaker may be open (lab cooldown 1 s) after the restart gap. */
const REACH_MS = 10_000;
const ASSERTION_INVALID = 'IL_ERR_IDENTITY_ASSERTION_INVALID';

const allowedFrom = (records: readonly LoadRecord[], from: number, to = Infinity) => records.filter((r) => r.kind === 'allowed' && r.at >= from && r.at + r.ms <= to);

/**
 * Restarts west's gateway with its wall clock `offsetSeconds` off (null: no
 * libfaketime at all, the gateway as the lab runs it) and returns, on the
 * load's clock, when the new process was ready: every call started after
 * that reaches the new process, never the old one (it has exited).
 */
async function restartWest(ctx: ExperimentContext, offsetSeconds: number | null): Promise<number> {
  const began = ctx.load.now();
  await ctx.world.restartGateway('west', offsetSeconds === null ? {} : { env: clockOffsetEnv(offsetSeconds) });
  const readyAt = ctx.load.now();
  ctx.note(`west restarted with its clock ${offsetSeconds === null ? 'right (no libfaketime)' : `at ${offsetSeconds} s`}: ready after ${readyAt - began} ms.`);
  return readyAt;
}

/** One call as east's frontend, for the refusal's message (the load keeps only codes): why west refused. */
async function refusalMessage(ctx: ExperimentContext): Promise<string> {
  const east = ctx.world.clusters.get('east')!;
  const agent = createWorkloadAgent(east.identities.get('frontend')!, gatewaySpiffeId(east.trustDomain));
  try {
    const result = await callThroughGateway(agent, east.gateway.outbound, { method: 'GET', host: 'billing.west.interlock', path: '/invoices/clock-skew-probe' });
    const message = (JSON.parse(result.body) as { error?: { message?: string } }).error?.message;
    return `${result.errorCode ?? result.status}: ${message ?? result.body.slice(0, 120)}`;
  } catch (error) {
    return `no answer: ${(error as Error).message}`;
  } finally {
    agent.destroy();
  }
}

/**
 * The receiving gateway's clock is moved, not the sender's: SVIDs live 15 s
 * in the chaos lab, so a sender far ahead would see its peers' certificates
 * as expired and fail at the TLS layer first. A clock behind accepts
 * certificates backdated by more than its skew, which the identities west
 * verifies are for the experiment (clock-skew-svids.ts), so what is tested
 * is the identity assertion's own skew rule. Each skew is a fixed
 * libfaketime offset given to a fresh west process, so a phase sees exactly
 * one clock.
 */
export const clockSkew: ChaosExperiment = {
  name: 'clock-skew',
  title: 'Clock skew on one gateway',
  hypothesis: `A gateway whose wall clock is ${-WITHIN_SKEW_S} s behind still accepts its peers' identity assertions (${ALLOWED_SKEW_S} s of skew is allowed); at ${-BEYOND_SKEW_S} s behind it refuses every one as dated in the future (${ASSERTION_INVALID}): it fails closed, its service is reached by nothing; with its clock right again it serves within 5 s of being up.`,
  fault: `west's gateway restarted with its clock ${-WITHIN_SKEW_S} s behind, then ${-BEYOND_SKEW_S} s behind (libfaketime FAKETIME, fixed per process), ${PHASE_MS / 1000} s each once east reaches it, then restarted with its clock right; meanwhile the gateways' and billing's SVIDs live ${SKEW_TEST_SVID_TTL_S / 60} min (backdated 30 s, as in production) instead of the lab's 15 s`,
  // Measured from the corrected gateway's readiness. East's breaker for west is open by then (the restart gap, and east's
  // re-issued 15 s SVID refused by west's clock at the handshake): it waits out the lab's 1 s cooldown, then one probe closes it.
  recoveryBudgetMs: 5_000,
  lab: 'shared',
  unavailable: () => (libfaketimePath() ? null : 'libfaketime is not installed (apt-get install faketime)'),
  run: async (ctx) => {
    const records = ctx.load.records;
    const startedAt = ctx.load.now();
    const labTtls = await setSkewSvidLifetimes(ctx, SKEW_TEST_SVID_TTL_S);

    const withinReady = await restartWest(ctx, WITHIN_SKEW_S);
    await waitFor(() => allowedFrom(records, withinReady).some((r) => r.status === 200), REACH_MS);
    const withinFrom = allowedFrom(records, withinReady).find((r) => r.status === 200)?.at;
    await ctx.sleep(PHASE_MS);
    const within = withinFrom === undefined ? [] : allowedFrom(records, withinFrom, ctx.load.now());
    ctx.check(
      `${WITHIN_SKEW_S} s: every call succeeds (within the ${ALLOWED_SKEW_S} s tolerance)`,
      within.length > 0 && within.every((r) => r.status === 200),
      withinFrom === undefined ? `no call answered 200 within ${REACH_MS} ms of west being ready (${codesOf(allowedFrom(records, withinReady))})` : `${within.filter((r) => r.status === 200).length}/${within.length} answered 200 once east reached west (${codesOf(within.filter((r) => r.status !== 200))} otherwise)`,
    );

    const beyondReady = await restartWest(ctx, BEYOND_SKEW_S);
    const servedBefore = ctx.served.length;
    await waitFor(() => allowedFrom(records, beyondReady).some((r) => r.errorCode === ASSERTION_INVALID), REACH_MS);
    const beyondFrom = allowedFrom(records, beyondReady).find((r) => r.errorCode === ASSERTION_INVALID)?.at;
    await ctx.sleep(PHASE_MS);
    const why = await refusalMessage(ctx);
    const beyondEnd = ctx.load.now();
    // Whatever billing served from west's readiness on (the old process had exited), load or probe.
    const served = ctx.served.slice(servedBefore);
    const whole = allowedFrom(records, beyondReady, beyondEnd);
    const refused = beyondFrom === undefined ? [] : allowedFrom(records, beyondFrom, beyondEnd);
    // Once east reaches west, nothing else is possible: a refusal is an answer, so east's breaker stays closed.
    ctx.check(
      `${BEYOND_SKEW_S} s: every call refused, west refusing the assertions as dated in the future`,
      refused.length > 0 && refused.every((r) => r.errorCode === ASSERTION_INVALID) && whole.every((r) => r.status !== 200 && r.errorCode !== undefined) && why.startsWith(ASSERTION_INVALID) && why.includes('in the future'),
      beyondFrom === undefined
        ? `no ${ASSERTION_INVALID} within ${REACH_MS} ms of west being ready (${codesOf(whole)})`
        : `${refused.filter((r) => r.errorCode === ASSERTION_INVALID).length}/${refused.length} calls refused with ${ASSERTION_INVALID} once east reached west; since west was ready: ${codesOf(whole)}; a probe was told "${why}"`,
    );
    const sent = records.filter((r) => r.at >= beyondReady && r.at + r.ms <= beyondEnd).length;
    ctx.check(`${BEYOND_SKEW_S} s: billing served nothing`, served.length === 0, served.length ? `served: ${served.slice(0, 5).map((s) => `${s.method} ${s.path}`).join(', ')}` : `${sent} calls sent while west's clock was ${-BEYOND_SKEW_S} s behind, and the probe; none reached billing`);

    // The lab's SVID lifetimes back (the identities attest again) while west still refuses everything, then its clock right.
    await setSkewSvidLifetimes(ctx, labTtls);
    const clearedAt = await restartWest(ctx, null);
    return { startedAt, clearedAt, mechanism: 'libfaketime (LD_PRELOAD, a fixed FAKETIME offset per gateway process, via a lab gateway restart)' };
  },
};
