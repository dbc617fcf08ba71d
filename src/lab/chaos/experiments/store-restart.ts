import { postgresUnavailableReason } from '../postgres.ts';
import type { ChaosExperiment } from '../types.ts';
import { allowedBetween } from './common.ts';

const DOWN_MS = 3_000;

export const storeRestart: ChaosExperiment = {
  name: 'store-restart',
  title: 'Store (PostgreSQL) primary restarted',
  hypothesis: 'A PostgreSQL restart takes the control plane API down (coded 503s, never a crash) but not the data plane; when the database is back, the same control plane process serves again within 10 s without being restarted.',
  fault: `the PostgreSQL server behind the control plane stopped and started again ${DOWN_MS / 1000} s later`,
  recoveryBudgetMs: 10_000,
  lab: 'postgres',
  unavailable: postgresUnavailableReason,
  run: async (ctx) => {
    const cp = ctx.world.controlPlane;
    const startedAt = ctx.load.now();
    const restarting = ctx.postgres!.restart(DOWN_MS);
    await ctx.sleep(1_000);
    const duringApi = await cp.call('GET', '/v1/clusters').then(() => 'answered', (error: Error & { code?: string }) => error.code ?? error.message);
    ctx.note(`API during the outage: ${duringApi}`);
    ctx.check('the API fails with a code while the store is down', duringApi !== 'answered', `GET /v1/clusters: ${duringApi}`);
    await restarting;
    const restartedAt = ctx.load.now();
    const during = allowedBetween(ctx.load.records, startedAt, restartedAt);
    ctx.check('calls keep succeeding while the store is down', during.length > 0 && during.every((r) => r.status === 200), `${during.filter((r) => r.status === 200).length}/${during.length} calls answered 200`);
    let apiBackMs: number | null = null;
    for (let i = 0; i < 100 && apiBackMs === null; i++) {
      if (await cp.call('GET', '/v1/clusters').then(() => true, () => false)) apiBackMs = ctx.load.now() - restartedAt;
      else await ctx.sleep(100);
    }
    ctx.check('the control plane serves again without a restart', apiBackMs !== null && cp.process.exitCode === null, apiBackMs === null ? 'API still failing after 10 s' : `API answered ${apiBackMs} ms after PostgreSQL was back (same process)`);
    return { startedAt, clearedAt: restartedAt };
  },
};
