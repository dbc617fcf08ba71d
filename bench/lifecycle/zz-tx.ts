import { mkdtempSync, rmSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { LoadWorker, startBenchControlPlane } from './control-plane.ts';
import { attestBatch, createBenchEntry } from './issuance.ts';
const dir = mkdtempSync('/tmp/zz-tx-');
const cp = await startBenchControlPlane(dir);
const worker = new LoadWorker();
const store = cp.server.store as unknown as { transaction: (fn: unknown) => Promise<unknown> };
const orig = store.transaction.bind(store);
let inTx = 0; let n = 0;
store.transaction = (fn: unknown) => orig(async (tx: unknown) => { const t = performance.now(); try { return await (fn as (tx: unknown) => Promise<unknown>)(tx); } finally { inTx += performance.now() - t; n++; } });
const entry = await createBenchEntry(cp);
await attestBatch(cp, worker, entry, 'w', 50, 8, false);
for (const c of [1, 8, 32]) {
  inTx = 0; n = 0;
  const elu0 = performance.eventLoopUtilization();
  const row = await attestBatch(cp, worker, entry, 'x', 600, c, false);
  const elu = performance.eventLoopUtilization(elu0);
  console.log(`c=${c} ${row.perSecond.toFixed(0)}/s p50 ${row.p50.toFixed(1)} ; tx total ${inTx.toFixed(0)} ms over ${n} tx (incl token creation), avg ${(inTx/n).toFixed(2)} ms; main ELU ${elu.utilization.toFixed(2)}`);
}
await worker.close(); await cp.server.close(); rmSync(dir, { recursive: true });
