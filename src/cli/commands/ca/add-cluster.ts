import type { Command } from 'commander';
import { action } from '../../run.ts';
import { openCa, withSecret, withStateDir } from '../../options.ts';

export function registerCaAddCluster(ca: Command): void {
  withSecret(withStateDir(ca.command('add-cluster')))
    .description("add a cluster: its own trust domain and an intermediate CA name-constrained to it")
    .argument('<name>', 'cluster name (a DNS label, e.g. east)')
    .option('--trust-domain <domain>', 'SPIFFE trust domain (default <name>.<domain given at ca init>)')
    .action(
      action(async (name: string, options: { dir?: string; trustDomain?: string; passphraseFile?: string; keyFile?: string }) => {
        const ca = await openCa(options);
        const cluster = await ca.addCluster(name, options.trustDomain);
        process.stdout.write(
          `cluster ${cluster.name} added: trust domain ${cluster.trustDomain}, intermediate CA ${ca.clusterCertPath(cluster.name)}\n` +
            `it can only issue spiffe://${cluster.trustDomain}/... identities (X.509 name constraint)\n`,
        );
      }),
    );
}
