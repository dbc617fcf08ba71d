import { impairLink } from '../../faults.ts';
import { WAN_INTERFACE } from '../../netns.ts';
import type { ChaosExperiment } from '../types.ts';
import { clusterNet } from './common.ts';

const FAULT_MS = 6_000;

export const lossLatency: ChaosExperiment = {
  name: 'loss-latency',
  title: '30% packet loss and 200 ms latency',
  hypothesis: 'On a lossy, slow link (30% of packets from east lost, 200 ms added to the rest) calls get slower but most still succeed (TCP retransmits under TLS); none is accepted against the policy; when the link is clean again calls are fast and steady within 5 s.',
  fault: `30% random loss and 200 ms delay on every packet leaving east's wan interface, for ${FAULT_MS / 1000} s`,
  recoveryBudgetMs: 5_000,
  lab: 'shared',
  run: async (ctx) => {
    const fault = await impairLink(clusterNet(ctx, 'east').exec, WAN_INTERFACE, { lossPercent: 30, delayMs: 200 });
    const startedAt = ctx.load.now();
    try {
      await ctx.sleep(FAULT_MS);
    } finally {
      await fault.heal();
    }
    const clearedAt = ctx.load.now();
    // Calls that started or finished while the fault was in force: on a slow, loaded machine every load loop may
    // be waiting on a call begun just before it, so counting only calls started inside the window can find none.
    const inWindow = (t: number) => t >= startedAt + 500 && t < clearedAt;
    const during = ctx.load.records.filter((r) => r.kind === 'allowed' && (inWindow(r.at) || inWindow(r.at + r.ms)));
    const ok = during.filter((r) => r.status === 200);
    const median = ok.map((r) => r.ms).sort((a, b) => a - b)[Math.floor(ok.length / 2)] ?? 0;
    ctx.check('calls still succeed on the degraded link', ok.length > 0, `${ok.length}/${during.length} calls answered 200 during the fault`);
    ctx.check('the delay was in force', median >= 200, `median latency of successful calls during the fault ${median} ms (≥ 200 ms expected)`);
    ctx.note(`success ratio during the fault: ${during.length ? Math.round((100 * ok.length) / during.length) : 0}%; median latency ${median} ms`);
    return { startedAt, clearedAt, mechanism: fault.mechanism };
  },
};
