import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { checkSvidTtl, parseDuration } from '../../../pki/certificates.ts';
import { parseWorkloadSpiffeId } from '../../../identity/spiffe-id.ts';
import { writeSvidFiles } from '../../../pki/svid-files.ts';
import { action } from '../../run.ts';
import { openCa, withSecret, withStateDir } from '../../options.ts';

export function registerSvidIssue(svid: Command): void {
  withSecret(withStateDir(svid.command('issue')))
    .description('issue an X.509-SVID; writes svid.pem (SVID + intermediate), svid.key and bundle.pem')
    .requiredOption('--cluster <name>', 'cluster whose CA signs')
    .requiredOption('--id <spiffe-id>', 'SPIFFE ID, e.g. spiffe://east.acme.internal/ns/shop/sa/frontend')
    .requiredOption('--out <dir>', 'folder to write the files into')
    .option('--ttl <duration>', 'lifetime, 5m to 24h', '1h')
    .action(
      action(async (options: { dir?: string; cluster: string; id: string; out: string; ttl: string; passphraseFile?: string; keyFile?: string }) => {
        // Checked before the CA key is opened: bad input should cost nothing.
        parseWorkloadSpiffeId(options.id, '--id');
        const ttlMs = checkSvidTtl(parseDuration(options.ttl, '--ttl'), '--ttl');
        const ca = await openCa(options);
        const issued = await ca.issueSvid(options.cluster, options.id, { ttlMs });
        const files = writeSvidFiles(resolve(options.out), issued, ca.root.cert);
        process.stdout.write(
          [
            `issued ${issued.spiffeId}`,
            `  serial      ${issued.cert.serialNumber}`,
            `  valid until ${issued.cert.notAfter.toISOString()}`,
            `  files       ${files.cert}, ${files.key}, ${files.bundle}`,
            `  check       openssl verify -CAfile ${files.bundle} -untrusted ${join(options.out, 'svid.pem')} ${join(options.out, 'svid.pem')}`,
            '',
          ].join('\n'),
        );
      }),
    );
}
