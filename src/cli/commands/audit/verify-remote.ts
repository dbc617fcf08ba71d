import type { Command } from 'commander';
import { listGatewayStreams, verifyRemoteChain } from '../../../client/audit.ts';
import type { RecordChainVerification } from '../../../audit/verify-records.ts';
import { verifyCheckpoint } from '../../../audit/checkpoint.ts';
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
        const check = async (name: string, stream: string): Promise<{ name: string; result: RecordChainVerification; checkpoint: string }> => {
          const stored = checkpoints[stream];
          // The checkpoint must be the control plane's own signature before the chain is held against it.
          const signed = stored ? await verifyCheckpoint(stored.jws, roots, new Date()) : undefined;
          const result = await verifyRemoteChain(connection, stream, signed);
          return { name, result, checkpoint: signed ? `checkpoint #${signed.seq} of ${signed.at} holds` : 'no checkpoint yet' };
        };
        const chains = [await check('control plane', 'control-plane')];
        for (const { stream } of await listGatewayStreams(connection)) chains.push(await check(`gateway stream ${stream}`, stream));
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
