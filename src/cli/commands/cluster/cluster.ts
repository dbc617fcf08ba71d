import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { InterlockError } from '../../../errors.ts';
import { apiRequest } from '../../../client/api.ts';
import { action } from '../../run.ts';
import { connectionFrom, output, table, withApi, type ApiOptions } from '../../api-options.ts';

interface Cluster {
  name: string;
  trustDomain: string;
  k8sIssuer: string | null;
  createdAt: string;
  createdBy: string;
}

function readJwks(path: string): object {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as object;
  } catch (error) {
    throw new InterlockError('IL_ERR_CONFIG_INVALID', `${path} is not a readable JWKS JSON file: ${(error as Error).message}`, { field: '--k8s-jwks' });
  }
}

export function registerCluster(program: Command): void {
  const cluster = program.command('cluster').description('clusters on the control plane (role operator)');
  withApi(cluster.command('add'))
    .description('add a cluster: its own trust domain and a name-constrained intermediate CA')
    .argument('<name>', 'cluster name (a DNS label)')
    .option('--trust-domain <domain>', 'SPIFFE trust domain (default <name>.<organisation domain>)')
    .option('--k8s-jwks <file>', "the cluster API server's service-account JWKS (kubectl get --raw /openid/v1/jwks)")
    .option('--k8s-issuer <iss>', "the API server's service-account issuer (kubectl get --raw /.well-known/openid-configuration)")
    .action(
      action(async (name: string, options: ApiOptions & { trustDomain?: string; k8sJwks?: string; k8sIssuer?: string }) => {
        if (Boolean(options.k8sJwks) !== Boolean(options.k8sIssuer)) {
          throw new InterlockError('IL_ERR_USAGE', '--k8s-jwks and --k8s-issuer go together', { field: options.k8sJwks ? '--k8s-issuer' : '--k8s-jwks' });
        }
        const body = {
          name,
          ...(options.trustDomain ? { trustDomain: options.trustDomain } : {}),
          ...(options.k8sJwks ? { k8s: { jwks: readJwks(options.k8sJwks), issuer: options.k8sIssuer } } : {}),
        };
        const { body: created } = await apiRequest<Cluster>(connectionFrom(options), 'POST', '/v1/clusters', body);
        output(options, created, (c) => `cluster ${c.name} added: trust domain ${c.trustDomain}${c.k8sIssuer ? `, Kubernetes issuer ${c.k8sIssuer}` : ''}`);
      }),
    );
  withApi(cluster.command('list'))
    .description('list clusters')
    .action(
      action(async (options: ApiOptions) => {
        const { body } = await apiRequest<Cluster[]>(connectionFrom(options), 'GET', '/v1/clusters');
        output(options, body, (rows) => table(['name', 'trust domain', 'k8s issuer', 'created', 'by'], rows.map((c) => [c.name, c.trustDomain, c.k8sIssuer ?? '-', c.createdAt, c.createdBy])));
      }),
    );
}
