import { gatewaySpiffeId } from '../../../identity/spiffe-id.ts';
import { x509 } from '../../../pki/x509.ts';
import { callThroughGateway, createWorkloadAgent } from '../../workload-client.ts';
import type { ChaosExperiment } from '../types.ts';
import { custodian } from './common.ts';

export const revokedReuse: ChaosExperiment = {
  name: 'revoked-reuse',
  title: 'Revoked certificate reused',
  hypothesis: "A copy of a revoked SVID and its key is refused by its cluster's gateway within a second of the revocation, on every attempt; the real workload attests again with a fresh SVID by itself and its calls succeed within 10 s.",
  fault: "east's frontend SVID revoked by a key custodian, then a kept copy of it (and its key) used for 3 s",
  recoveryBudgetMs: 10_000,
  lab: 'shared',
  run: async (ctx) => {
    const east = ctx.world.clusters.get('east')!;
    const copy = east.identities.get('frontend')!;
    const serial = new x509.X509Certificate(copy.certPem).serialNumber;
    const startedAt = ctx.load.now();
    await ctx.world.controlPlane.call('POST', `/v1/svids/${serial}/revoke`, { reason: 'chaos: key copied off a node' }, await custodian(ctx.world));
    const revokedAt = performance.now();
    const outcomes: string[] = [];
    let firstRefusalMs: number | null = null;
    while (performance.now() - revokedAt < 3_000) {
      // A fresh connection each time: an attacker is not limited to the victim's kept-alive one.
      const agent = createWorkloadAgent(copy, gatewaySpiffeId(east.trustDomain));
      const outcome = await callThroughGateway(agent, ctx.world.clusters.get('east')!.gateway.outbound, { method: 'GET', host: 'billing.west.interlock', path: '/invoices/revoked-copy' }).then(
        (r) => (r.status === 200 ? 'accepted' : (r.errorCode ?? String(r.status))),
        (error: NodeJS.ErrnoException) => `handshake: ${error.code ?? error.message}`,
      );
      agent.destroy();
      outcomes.push(outcome);
      if (outcome !== 'accepted' && firstRefusalMs === null) firstRefusalMs = Math.round(performance.now() - revokedAt);
      await ctx.sleep(100);
    }
    const clearedAt = ctx.load.now();
    const firstRefused = outcomes.findIndex((o) => o !== 'accepted');
    const held = firstRefusalMs !== null && firstRefusalMs <= 1_000 && outcomes.lastIndexOf('accepted') < firstRefused;
    ctx.check('the revoked copy is refused within 1 s and from then on', held, `${outcomes.length} attempts; first refusal after ${firstRefusalMs} ms; outcomes: ${[...new Set(outcomes)].join(', ')}`);
    const fresh = await new Promise<boolean>((resolve) => {
      const until = performance.now() + 10_000;
      const poll = () => (new x509.X509Certificate(ctx.world.clusters.get('east')!.identities.get('frontend')!.certPem).serialNumber !== serial ? resolve(true) : performance.now() > until ? resolve(false) : setTimeout(poll, 100));
      poll();
    });
    ctx.check('the real frontend attested again', fresh, fresh ? 'a new SVID with a new serial' : 'still on the revoked SVID after 10 s');
    return { startedAt, clearedAt };
  },
};
