import type { Command } from 'commander';
import { fetchControlPlaneAudit } from '../../../client/audit.ts';
import { verifyRecordChain } from '../../../audit/verify-records.ts';
import { InterlockError } from '../../../errors.ts';
import { EXIT_FAILED, EXIT_OK, action } from '../../run.ts';
import { connectionFrom, output, withApi, type ApiOptions } from '../../api-options.ts';

export function registerAuditVerifyRemote(audit: Command): void {
  withApi(audit.command('verify-server'))
    .description("check the control plane's audit chain, read through its API (role auditor); exits 1 with IL_ERR_AUDIT_CHAIN_BROKEN if broken")
    .action(
      action(async (options: ApiOptions) => {
        const connection = connectionFrom(options);
        const result = verifyRecordChain(await fetchControlPlaneAudit(connection));
        output(options, { server: connection.server, ...result }, (r) =>
          r.ok ? `ok      ${r.server}: ${r.count} records, head ${r.head.slice(0, 16)}…` : `BROKEN  ${r.server}`,
        );
        if (!result.ok) {
          const error = new InterlockError('IL_ERR_AUDIT_CHAIN_BROKEN', `record ${result.badSeq} of the control plane chain: ${result.reason}`, { field: 'audit' });
          process.stderr.write(`interlock: error ${error.toLine()}\n`);
          return EXIT_FAILED;
        }
        return EXIT_OK;
      }),
    );
}
