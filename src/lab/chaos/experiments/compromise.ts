import type { IncidentRecord } from '../../../server/incidents.ts';
import { tryHandshake } from '../../attackers.ts';
import { x509 } from '../../../pki/x509.ts';
import type { ChaosExperiment } from '../types.ts';
import { custodian } from './common.ts';

const STEPS = ['opened', 'ca-rotated', 'revoked', 'reissue-requested', 'remediated'];

export const compromise: ChaosExperiment = {
  name: 'compromise',
  title: 'Compromised cluster',
  hypothesis: "Declaring west compromised is the only human step: the control plane replaces west's CA, revokes every west SVID and has west's gateway and workloads attest again, reaching 'remediated' by itself; west serves again within 20 s; the old billing SVID is refused.",
  fault: "`POST /v1/incidents/compromise {cluster: west}` by a key custodian (what `interlock incident compromise --cluster west` sends)",
  recoveryBudgetMs: 20_000,
  lab: 'shared',
  altersLab: true,
  run: async (ctx) => {
    const west = ctx.world.clusters.get('west')!;
    const oldBilling = west.identities.get('billing')!;
    const startedAt = ctx.load.now();
    const admin = await custodian(ctx.world);
    const opened = await ctx.world.controlPlane.call<IncidentRecord>('POST', '/v1/incidents/compromise', { cluster: 'west', reason: 'chaos: compromised cluster' }, admin);
    let record = opened;
    for (let i = 0; i < 200 && !record.timeline.some((s) => s.step === 'remediated'); i++) {
      await ctx.sleep(100);
      record = await ctx.world.controlPlane.call<IncidentRecord>('GET', `/v1/incidents/${opened.id}`, undefined, admin);
    }
    const steps: string[] = record.timeline.map((s) => s.step);
    ctx.check('remediation finished on its own', STEPS.every((s) => steps.includes(s)), `timeline: ${steps.join(' → ')}`);
    const clearedAt = ctx.load.now();
    const serialOf = (pem: string) => new x509.X509Certificate(pem).serialNumber;
    const reattested = await new Promise<boolean>((resolve) => {
      const until = performance.now() + 15_000;
      const poll = () => (serialOf(ctx.world.clusters.get('west')!.identities.get('billing')!.certPem) !== serialOf(oldBilling.certPem) ? resolve(true) : performance.now() > until ? resolve(false) : setTimeout(poll, 100));
      poll();
    });
    ctx.check('billing attested again', reattested, reattested ? 'a fresh SVID under the new west CA' : 'still on the old SVID after 15 s');
    const refused = await tryHandshake({ ...ctx.world.clusters.get('west')!.gateway.outbound, credentials: oldBilling, bundlePem: ctx.world.clusters.get('west')!.identities.get('billing')!.bundlePem });
    ctx.check("the old billing SVID is refused at west's gateway", !refused.connected, refused.connected ? 'handshake accepted' : `refused (${refused.reason})`);
    return { startedAt, clearedAt };
  },
};
