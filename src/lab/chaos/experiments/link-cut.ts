import { cutLink } from '../../faults.ts';
import { WAN_INTERFACE } from '../../netns.ts';
import type { ChaosExperiment } from '../types.ts';
import { allowedBetween, clusterNet, codesOf } from './common.ts';

const CUT_MS = 5_000;

export const linkCut: ChaosExperiment = {
  name: 'link-cut',
  title: 'Cross-cluster link cut and healed',
  hypothesis: 'While east is cut off from the wan, its calls to west fail with a coded error within the request timeout (no hang, nothing accepted); once the link is back, calls succeed again within 10 s (the circuit breaker probes after its cooldown).',
  fault: `every packet in and out of east's wan interface dropped for ${CUT_MS / 1000} s (a cut cable: no resets, packets vanish)`,
  recoveryBudgetMs: 10_000,
  lab: 'shared',
  run: async (ctx) => {
    const startedAt = ctx.load.now();
    const fault = cutLink(clusterNet(ctx, 'east').exec, WAN_INTERFACE);
    try {
      await ctx.sleep(CUT_MS);
    } finally {
      await fault.heal();
    }
    const clearedAt = ctx.load.now();
    const during = allowedBetween(ctx.load.records, startedAt + 200, clearedAt);
    ctx.check('no call succeeds across the cut', during.every((r) => r.status !== 200), `${during.length} calls started and finished during the cut; outcomes: ${codesOf(during)}`);
    const slow = during.filter((r) => r.ms > 4_000 + 1_500);
    ctx.check('calls fail within the request timeout', slow.length === 0, slow.length ? `${slow.length} calls took longer than 5.5 s` : 'every failed call was answered within the 4 s request timeout');
    return { startedAt, clearedAt, mechanism: fault.mechanism };
  },
};
