import type { Command } from 'commander';
import { fetchControlPlaneAudit, fetchGatewayStream, listGatewayStreams } from '../../../client/audit.ts';
import { verifyRecordChain } from '../../../audit/verify-records.ts';
import { InterlockError } from '../../../errors.ts';
import { EXIT_FAILED, EXIT_OK, action } from '../../run.ts';
import { connectionFrom, output, withApi, type ApiOptions } from '../../api-options.ts';

export function registerAuditVerifyRemote(audit: Command): void {
  withApi(audit.command('verify-server'))
    .description("check the control plane's audit chain and every gateway chain shipped to it, read through its API (role auditor); exits 1 with IL_ERR_AUDIT_CHAIN_BROKEN if one is broken")
    .action(
      action(async (options: ApiOptions) => {
        const connection = connectionFrom(options);
        const chains = [{ name: 'control plane', result: verifyRecordChain(await fetchControlPlaneAudit(connection)) }];
        for (const { stream } of await listGatewayStreams(connection)) chains.push({ name: `gateway stream ${stream}`, result: verifyRecordChain(await fetchGatewayStream(connection, stream)) });
        output(options, { server: connection.server, chains: chains.map((c) => ({ name: c.name, ...c.result })) }, (r) =>
          r.chains.map((c) => (c.ok ? `ok      ${c.name}: ${c.count} records, head ${c.head.slice(0, 16)}…` : `BROKEN  ${c.name}: at record ${c.badSeq}: ${c.reason}`)).join('\n'),
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
