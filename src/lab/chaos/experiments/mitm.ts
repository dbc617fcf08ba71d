import type { ChaosExperiment } from '../types.ts';
import { allowedBetween, checkServedOnlyLoad, codesOf, divertEastToMallory } from './common.ts';

const FAULT_MS = 4_000;

export const mitm: ChaosExperiment = {
  name: 'mitm',
  title: 'Man in the middle with a foreign CA',
  hypothesis: "An attacker who diverts east's connections to west and answers with a certificate from a CA outside the trust bundle learns nothing: east's gateway refuses the handshake before sending a byte of a request, calls fail with IL_ERR_PEER_UNAVAILABLE, and the attacker decrypts 0 bytes.",
  fault: `east's connections to west's gateway redirected (DNAT) to mallory, a TLS 1.3 server with a foreign CA's gateway certificate, for ${FAULT_MS / 1000} s`,
  recoveryBudgetMs: 10_000,
  lab: 'shared',
  run: async (ctx) => {
    const { startedAt, clearedAt, mechanism, report } = await divertEastToMallory(ctx, 'mitm', FAULT_MS, false);
    ctx.check('east connected to the impostor', Number(report.connections) > 0, `${String(report.connections)} connections diverted to mallory`);
    ctx.check('the impostor decrypted nothing', Number(report.plaintextBytes) === 0 && (report.findings as unknown[]).length === 0, `${String(report.plaintextBytes)} plaintext bytes, ${String(report.handshakesCompleted)} handshakes completed on mallory's side${report.lastTlsError ? `; last TLS error: ${String(report.lastTlsError)}` : ''}`);
    const during = allowedBetween(ctx.load.records, startedAt + 300, clearedAt);
    ctx.check('calls fail with a coded error', during.length > 0 && during.every((r) => r.status !== 200 && r.errorCode !== undefined), `${during.length} calls during the fault: ${codesOf(during)}`);
    checkServedOnlyLoad(ctx, ctx.served);
    return { startedAt, clearedAt, mechanism: mechanism };
  },
};
