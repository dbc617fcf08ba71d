import type { Command } from 'commander';
import { systemClock } from '../../../clock.ts';
import { CertificateAuthority } from '../../../pki/authority.ts';
import { action } from '../../run.ts';
import { secretFrom, stateDir, withSecret, withStateDir } from '../../options.ts';

export function registerCaInit(ca: Command): void {
  withSecret(withStateDir(ca.command('init')))
    .description('create the organisation root CA (ECDSA P-256, key sealed with AES-256-GCM)')
    .option('--org <name>', 'organisation name in the CA subject', 'Interlock')
    .option('--domain <domain>', 'parent domain of cluster trust domains (<cluster>.<domain>)', 'interlock.internal')
    .action(
      action(async (options: { dir?: string; org: string; domain: string; passphraseFile?: string; keyFile?: string }) => {
        const dir = stateDir(options);
        const ca = await CertificateAuthority.init(dir, { organization: options.org, domain: options.domain, secret: secretFrom(options), clock: systemClock });
        process.stdout.write(
          [
            `root CA created for ${ca.info.organization} (serial ${ca.root.cert.serialNumber}, valid until ${ca.root.cert.notAfter.toISOString()})`,
            `trust bundle: ${ca.bundlePemPath}`,
            `next: interlock ca add-cluster <name> --dir ${dir}`,
            '',
          ].join('\n'),
        );
      }),
    );
}
