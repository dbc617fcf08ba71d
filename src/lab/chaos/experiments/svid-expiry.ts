import { tryHandshake } from '../../attackers.ts';
import { CHAOS_SVID_TTL } from './ttl.ts';
import type { ChaosExperiment } from '../types.ts';

export const svidExpiry: ChaosExperiment = {
  name: 'svid-expiry',
  title: 'SVIDs expire while the control plane is down',
  hypothesis: `With the control plane down longer than an SVID lives (${CHAOS_SVID_TTL} s here), no expired certificate opens a connection or keeps serving on one opened earlier: a new handshake with an expired SVID is refused and kept-alive connections stop at expiry (fail closed); when the control plane returns, gateways and workloads renew by themselves and calls succeed within 30 s.`,
  fault: `control plane killed for ${CHAOS_SVID_TTL + 3} s (one SVID lifetime and 3 s more), then started again`,
  recoveryBudgetMs: 30_000,
  lab: 'shared',
  altersLab: true,
  run: async (ctx) => {
    const cp = ctx.world.controlPlane;
    const east = ctx.world.clusters.get('east')!;
    const held = east.identities.get('frontend')!;
    const startedAt = ctx.load.now();
    await cp.kill();
    const expiredAt = startedAt + CHAOS_SVID_TTL * 1_000 + 1_000;
    await ctx.sleep(CHAOS_SVID_TTL * 1_000 + 3_000);
    // The frontend could not renew: what it holds now has expired.
    const current = east.identities.get('frontend')!;
    const handshake = await tryHandshake({ ...ctx.world.clusters.get('east')!.gateway.outbound, credentials: current, bundlePem: current.bundlePem });
    ctx.check('a new handshake with an expired SVID is refused', !handshake.connected && current.certPem === held.certPem, handshake.connected ? 'accepted' : `refused (${handshake.reason})`);
    const afterExpiry = ctx.load.records.filter((r) => r.kind === 'allowed' && r.at >= expiredAt);
    const served = afterExpiry.filter((r) => r.status === 200).length;
    // Kept-alive connections must not outlive their certificates: gateways retire their own pooled
    // connections before expiry and refuse requests on a connection whose client certificate expired.
    ctx.check('no call is served over a connection whose certificates have expired', served === 0, `${served}/${afterExpiry.length} calls after every SVID had expired were answered 200`);
    await cp.start();
    return { startedAt, clearedAt: ctx.load.now() };
  },
};
