import type { Command } from 'commander';
import { fetchControlPlaneAudit, fetchGatewayStream, listGatewayStreams } from '../../../client/audit.ts';
import { verifyRecordChain, type RecordChainVerification } from '../../../audit/verify-records.ts';
import { checkpointProblem, verifyCheckpoint } from '../../../audit/checkpoint.ts';
import { apiRequest } from '../../../client/api.ts';
import { parseCertificatesPem } from '../../../pki/x509.ts';
import { InterlockError } from '../../../errors.ts';
import { EXIT_FAILED, EXIT_OK, action } from '../../run.ts';
import { connectionFrom, output, withApi, type ApiOptions } from '../../api-options.ts';

export function registerAuditVerifyRemote(audit: Command): void {
  withApi(audit.command('verify-server'))
    .description("check the control plane's audit chain and every gateway chain shipped to it, read through its API (role auditor); exits 1 with IL_ERR_AUDIT_CHAIN_BROKEN if one is broken")
    .action(
      action(async (options: ApiOptions) => {
        const connection = connectionFrom(options);
        const checkpoints = (await apiRequest<Record<string, { seq: number; hash: string; at: string; jws: string }>>(connection, 'GET', '/v1/audit/checkpoints')).body;
        const roots = parseCertificatesPem(connection.bundlePem);
        const check = async (name: string, stream: string, records: unknown[]): Promise<{ name: string; result: RecordChainVerification; checkpoint: string }> => {
          const result = verifyRecordChain(records);
          const stored = checkpoints[stream];
          if (!result.ok || !stored) return { name, result, checkpoint: stored ? '' : 'no checkpoint yet' };
          // The checkpoint must be the control plane's signature, and the chain must still hold what it signed.
          const signed = await verifyCheckpoint(stored.jws, roots, new Date());
          const problem = checkpointProblem(records as Array<{ seq: number; hash: string }>, signed);
          if (problem) return { name, result: { ok: false, count: records.length, badSeq: signed.seq, reason: problem }, checkpoint: '' };
          return { name, result, checkpoint: `checkpoint #${signed.seq} of ${signed.at} holds` };
        };
        const chains = [await check('control plane', 'control-plane', await fetchControlPlaneAudit(connection))];
        for (const { stream } of await listGatewayStreams(connection)) chains.push(await check(`gateway stream ${stream}`, stream, await fetchGatewayStream(connection, stream)));
        output(options, { server: connection.server, chains: chains.map((c) => ({ name: c.name, checkpoint: c.checkpoint, ...c.result })) }, (r) =>
          r.chains.map((c) => (c.ok ? `ok      ${c.name}: ${c.count} records, head ${c.head.slice(0, 16)}…; ${c.checkpoint}` : `BROKEN  ${c.name}: at record ${c.badSeq}: ${c.reason}`)).join('\n'),
        );
        const broken = chains.find((c) => !c.result.ok);
        if (broken && !broken.result.ok) {
          const error = new InterlockError('IL_ERR_AUDIT_CHAIN_BROKEN', `record ${broken.result.badSeq} of the ${broken.name} chain: ${broken.result.reason}`, { field: 'audit' });
          process.stderr.write(`interlock: error ${error.toLine()}\n`);
          return EXIT_FAILED;
        }
        return EXIT_OK;
      }),
    );
}
