import type { ChaosExperiment } from '../types.ts';
import { allowedBetween, codesOf } from './common.ts';

const DOWN_MS = 4_000;

export const controlPlaneKilled: ChaosExperiment = {
  name: 'control-plane-killed',
  title: 'Control plane killed and restarted',
  hypothesis: 'The data plane does not depend on the control plane being up: with the control plane killed (SIGKILL), gateways keep enforcing their last signed policy bundle — allowed calls succeed, denied ones are refused — and after the restart the API answers again within 10 s with no operator action.',
  fault: `the control plane process killed with SIGKILL, restarted ${DOWN_MS / 1000} s later on the same store`,
  recoveryBudgetMs: 10_000,
  lab: 'shared',
  run: async (ctx) => {
    const cp = ctx.world.controlPlane;
    const startedAt = ctx.load.now();
    await cp.kill();
    await ctx.sleep(DOWN_MS);
    const during = allowedBetween(ctx.load.records, startedAt, ctx.load.now());
    ctx.check('calls keep succeeding without a control plane', during.length > 0 && during.every((r) => r.status === 200), `${during.filter((r) => r.status === 200).length}/${during.length} calls answered 200 while it was down (${codesOf(during.filter((r) => r.status !== 200))})`);
    await cp.start();
    const clearedAt = ctx.load.now();
    const api = await cp.call<unknown[]>('GET', '/v1/clusters').then((c) => c.length, (error: Error) => error.message);
    ctx.check('the API answers after the restart', typeof api === 'number', `GET /v1/clusters: ${typeof api === 'number' ? `${api} clusters` : api}`);
    return { startedAt, clearedAt };
  },
};
