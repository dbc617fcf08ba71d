import type { Command } from 'commander';
import { InterlockError } from '../../../errors.ts';
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
    .description('revoke SVIDs: one by serial, every valid one of a SPIFFE ID, or of a whole cluster (role key-custodian); gateways refuse them at once')
    .option('--serial <hex>', 'one certificate, by serial number')
    .option('--id <spiffe-id>', 'every still-valid SVID of this SPIFFE ID')
    .option('--cluster <name>', 'every still-valid SVID issued in this cluster')
    .requiredOption('--reason <text>', 'why, for the audit record')
    .action(
      action(async (options: ApiOptions & { serial?: string; id?: string; cluster?: string; reason: string }) => {
        const given = [options.serial, options.id, options.cluster].filter(Boolean).length;
        if (given !== 1) throw new InterlockError('IL_ERR_USAGE', 'give exactly one of --serial, --id or --cluster', { field: '--serial' });
        const connection = connectionFrom(options);
        if (options.serial) {
          const { body } = await apiRequest<SvidRow>(connection, 'POST', `/v1/svids/${encodeURIComponent(options.serial.toLowerCase())}/revoke`, { reason: options.reason });
          output(options, body, (s) => `revoked ${s.serial} (${s.spiffeId}) at ${s.revokedAt}: ${s.revocationReason}`);
          return;
        }
        const { body } = await apiRequest<{ revoked: string[]; count: number }>(connection, 'POST', '/v1/revocations', { ...(options.id ? { spiffeId: options.id } : { cluster: options.cluster }), reason: options.reason });
        output(options, body, (r) => `revoked ${r.count} SVID${r.count === 1 ? '' : 's'}${r.count ? `: ${r.revoked.join(', ')}` : ''}`);
      }),
    );
}
