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
  k8sKeys: string | null;
  createdAt: string;
  createdBy: string;
}

interface K8sOptions {
  k8sIssuer?: string;
  k8sJwks?: string;
  k8sJwksUri?: string;
  k8sOidcDiscovery?: boolean;
  k8sCaFile?: string;
}

function readFile(path: string, what: string, flag: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    throw new InterlockError('IL_ERR_CONFIG_INVALID', `${path} is not a readable ${what}: ${(error as Error).message}`, { field: flag });
  }
}

function readJwks(path: string): object {
  try {
    return JSON.parse(readFile(path, 'JWKS JSON file', '--k8s-jwks')) as object;
  } catch (error) {
    if (error instanceof InterlockError) throw error;
    throw new InterlockError('IL_ERR_CONFIG_INVALID', `${path} is not a JWKS JSON file: ${(error as Error).message}`, { field: '--k8s-jwks' });
  }
}

/** The API's `k8s` object from the flags: an issuer and exactly one key source (server/k8s-keys.ts). */
function k8sBody(options: K8sOptions, required: boolean): Record<string, unknown> | undefined {
  const sources = [options.k8sJwks && '--k8s-jwks', options.k8sJwksUri && '--k8s-jwks-uri', options.k8sOidcDiscovery && '--k8s-oidc-discovery'].filter(Boolean);
  if (!options.k8sIssuer && sources.length === 0 && !required) return undefined;
  if (!options.k8sIssuer) throw new InterlockError('IL_ERR_USAGE', '--k8s-issuer is needed with a key source', { field: '--k8s-issuer' });
  if (sources.length !== 1) throw new InterlockError('IL_ERR_USAGE', 'give exactly one of --k8s-jwks, --k8s-jwks-uri or --k8s-oidc-discovery', { field: '--k8s-jwks' });
  if (options.k8sCaFile && options.k8sJwks) throw new InterlockError('IL_ERR_USAGE', '--k8s-ca-file goes with --k8s-jwks-uri or --k8s-oidc-discovery', { field: '--k8s-ca-file' });
  return {
    issuer: options.k8sIssuer,
    ...(options.k8sJwks ? { jwks: readJwks(options.k8sJwks) } : {}),
    ...(options.k8sJwksUri ? { jwksUri: options.k8sJwksUri } : {}),
    ...(options.k8sOidcDiscovery ? { oidcDiscovery: true } : {}),
    ...(options.k8sCaFile ? { caPem: readFile(options.k8sCaFile, 'PEM file', '--k8s-ca-file') } : {}),
  };
}

function withK8sOptions(command: Command): Command {
  return command
    .option('--k8s-issuer <iss>', "the API server's service-account issuer (kubectl get --raw /.well-known/openid-configuration)")
    .option('--k8s-jwks <file>', "keys given once: the API server's service-account JWKS (kubectl get --raw /openid/v1/jwks)")
    .option('--k8s-jwks-uri <url>', 'keys fetched and refreshed: the API server\'s JWKS endpoint, e.g. https://<api-server>/openid/v1/jwks')
    .option('--k8s-oidc-discovery', "keys found through the issuer's OIDC discovery document (public issuers: EKS, GKE, AKS)")
    .option('--k8s-ca-file <pem>', "CA certificates of a private API server, for --k8s-jwks-uri or --k8s-oidc-discovery");
}

export function registerCluster(program: Command): void {
  const cluster = program.command('cluster').description('clusters on the control plane (role operator)');
  withK8sOptions(withApi(cluster.command('add')))
    .description('add a cluster: its own trust domain and a name-constrained intermediate CA')
    .argument('<name>', 'cluster name (a DNS label)')
    .option('--trust-domain <domain>', 'SPIFFE trust domain (default <name>.<organisation domain>)')
    .action(
      action(async (name: string, options: ApiOptions & K8sOptions & { trustDomain?: string }) => {
        const k8s = k8sBody(options, false);
        const body = { name, ...(options.trustDomain ? { trustDomain: options.trustDomain } : {}), ...(k8s ? { k8s } : {}) };
        const { body: created } = await apiRequest<Cluster>(connectionFrom(options), 'POST', '/v1/clusters', body);
        output(options, created, (c) => `cluster ${c.name} added: trust domain ${c.trustDomain}${c.k8sIssuer ? `, Kubernetes issuer ${c.k8sIssuer} (${c.k8sKeys})` : ''}`);
      }),
    );
  withK8sOptions(withApi(cluster.command('set-k8s')))
    .description("set how a cluster's service-account tokens are verified (e.g. after the API server rotated its key)")
    .argument('<name>', 'cluster name')
    .action(
      action(async (name: string, options: ApiOptions & K8sOptions) => {
        const { body } = await apiRequest<{ cluster: string; issuer: string }>(connectionFrom(options), 'PUT', `/v1/clusters/${encodeURIComponent(name)}/k8s`, k8sBody(options, true));
        output(options, body, (r) => `cluster ${r.cluster}: Kubernetes tokens from ${r.issuer} are verified with the new keys`);
      }),
    );
  withApi(cluster.command('list'))
    .description('list clusters')
    .action(
      action(async (options: ApiOptions) => {
        const { body } = await apiRequest<Cluster[]>(connectionFrom(options), 'GET', '/v1/clusters');
        output(options, body, (rows) => table(['name', 'trust domain', 'k8s issuer', 'k8s keys', 'created', 'by'], rows.map((c) => [c.name, c.trustDomain, c.k8sIssuer ?? '-', c.k8sKeys ?? '-', c.createdAt, c.createdBy])));
      }),
    );
}
