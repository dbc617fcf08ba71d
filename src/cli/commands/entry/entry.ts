import type { Command } from 'commander';
import { apiRequest } from '../../../client/api.ts';
import { parseDuration } from '../../../pki/certificates.ts';
import type { RegistrationEntryRow } from '../../../store/types.ts';
import { action } from '../../run.ts';
import { connectionFrom, output, table, withApi, type ApiOptions } from '../../api-options.ts';

export function registerEntry(program: Command): void {
  const entry = program.command('entry').description('registration entries: which SPIFFE ID a workload gets (role operator)');
  withApi(entry.command('create'))
    .description('create a registration entry')
    .requiredOption('--cluster <name>', 'cluster the workload runs in')
    .requiredOption('--id <spiffe-id>', "SPIFFE ID to issue, in the cluster's trust domain")
    .option('--namespace <ns>', 'Kubernetes namespace selector (with --service-account)')
    .option('--service-account <sa>', 'Kubernetes service-account selector (with --namespace)')
    .option('--ttl <duration>', 'SVID lifetime, 5m to 24h', '1h')
    .option('--gateway', "this is the cluster's gateway")
    .action(
      action(async (options: ApiOptions & { cluster: string; id: string; namespace?: string; serviceAccount?: string; ttl: string; gateway?: boolean }) => {
        const body = {
          cluster: options.cluster,
          spiffeId: options.id,
          ttlSeconds: Math.round(parseDuration(options.ttl, '--ttl') / 1000),
          ...(options.namespace ? { namespace: options.namespace } : {}),
          ...(options.serviceAccount ? { serviceAccount: options.serviceAccount } : {}),
          ...(options.gateway ? { gateway: true } : {}),
        };
        const { body: created } = await apiRequest<RegistrationEntryRow>(connectionFrom(options), 'POST', '/v1/entries', body);
        output(options, created, (e) => `entry ${e.id}: ${e.spiffeId} in ${e.cluster}${e.namespace ? ` for ${e.namespace}/${e.serviceAccount}` : ''}`);
      }),
    );
  withApi(entry.command('list'))
    .description('list registration entries')
    .option('--cluster <name>', 'only this cluster')
    .action(
      action(async (options: ApiOptions & { cluster?: string }) => {
        const { body } = await apiRequest<RegistrationEntryRow[]>(connectionFrom(options), 'GET', `/v1/entries${options.cluster ? `?cluster=${encodeURIComponent(options.cluster)}` : ''}`);
        output(options, body, (rows) =>
          table(['id', 'cluster', 'spiffe id', 'selector', 'ttl'], rows.map((e) => [e.id, e.cluster, e.spiffeId, e.namespace ? `${e.namespace}/${e.serviceAccount}` : '-', `${e.ttlSeconds}s`])),
        );
      }),
    );
  withApi(entry.command('delete'))
    .description('delete a registration entry (its join tokens go with it)')
    .argument('<id>', 'entry id')
    .action(
      action(async (id: string, options: ApiOptions) => {
        await apiRequest(connectionFrom(options), 'DELETE', `/v1/entries/${encodeURIComponent(id)}`);
        output(options, { deleted: id }, () => `entry ${id} deleted`);
      }),
    );
}
