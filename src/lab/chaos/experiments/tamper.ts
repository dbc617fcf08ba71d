import type { ChaosExperiment } from '../types.ts';
import { allowedBetween, checkServedOnlyLoad, codesOf, divertEastToMallory } from './common.ts';

const FAULT_MS = 4_000;

export const tamper: ChaosExperiment = {
  name: 'tamper',
  title: 'Message tampered in flight',
  hypothesis: 'A relay in the path that flips one bit in every TLS application-data record east sends changes nothing that is served: the receiving side\'s AEAD check fails (RFC 8446 §5.2), the connection is torn down, the call fails with a coded error, and west serves no altered request.',
  fault: `east's connections to west's gateway redirected through mallory, a TCP relay flipping one bit in each application-data record after the handshake, for ${FAULT_MS / 1000} s`,
  recoveryBudgetMs: 10_000,
  lab: 'shared',
  run: async (ctx) => {
    const { startedAt, clearedAt, mechanism, report } = await divertEastToMallory(ctx, 'tamper', FAULT_MS, true);
    ctx.check('mallory tampered with records', Number(report.tamperedRecords) > 0, `${String(report.tamperedRecords)} records altered on ${String(report.connections)} connections`);
    const during = allowedBetween(ctx.load.records, startedAt + 300, clearedAt);
    const failed = during.filter((r) => r.status !== 200);
    ctx.check('calls over tampered connections fail', failed.length > 0, `${failed.length}/${during.length} calls failed during the fault (${codesOf(failed)})`);
    checkServedOnlyLoad(ctx, ctx.served);
    return { startedAt, clearedAt, mechanism: `${mechanism} to a bit-flipping relay` };
  },
};
