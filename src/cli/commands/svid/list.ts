import type { Command } from 'commander';
import { apiRequest } from '../../../client/api.ts';
import type { SvidRow } from '../../../store/types.ts';
import { action } from '../../run.ts';
import { connectionFrom, output, table, withApi, type ApiOptions } from '../../api-options.ts';

export function registerSvidList(svid: Command): void {
  withApi(svid.command('list'))
    .description('the certificate inventory on the control plane (auditor, key-custodian, operator)')
    .option('--cluster <name>', 'only this cluster')
    .option('--valid', 'only SVIDs not yet expired')
    .action(
      action(async (options: ApiOptions & { cluster?: string; valid?: boolean }) => {
        const query = new URLSearchParams({ ...(options.cluster ? { cluster: options.cluster } : {}), ...(options.valid ? { valid: 'true' } : {}) });
        const { body } = await apiRequest<SvidRow[]>(connectionFrom(options), 'GET', `/v1/svids?${query}`);
        output(options, body, (rows) => table(['serial', 'spiffe id', 'cluster', 'not after', 'method', 'revoked'], rows.map((s) => [s.serial, s.spiffeId, s.cluster, s.notAfter, s.method, s.revokedAt ?? '-'])));
      }),
    );
}

export function registerRevoke(program: Command): void {
  withApi(program.command('revoke'))
    .description('revoke an SVID by serial (role key-custodian)')
    .requiredOption('--serial <hex>', 'certificate serial number')
    .requiredOption('--reason <text>', 'why, for the audit record')
    .action(
      action(async (options: ApiOptions & { serial: string; reason: string }) => {
        const { body } = await apiRequest<SvidRow>(connectionFrom(options), 'POST', `/v1/svids/${encodeURIComponent(options.serial.toLowerCase())}/revoke`, { reason: options.reason });
        output(options, body, (s) => `revoked ${s.serial} (${s.spiffeId}) at ${s.revokedAt}: ${s.revocationReason}`);
      }),
    );
}
