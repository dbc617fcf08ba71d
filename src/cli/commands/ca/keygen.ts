import { existsSync } from 'node:fs';
import type { Command } from 'commander';
import { InterlockError } from '../../../errors.ts';
import { generateKeyFileContent } from '../../../pki/key-protection.ts';
import { writeFileAtomic } from '../../../util/files.ts';
import { action } from '../../run.ts';

export function registerCaKeygen(ca: Command): void {
  ca.command('keygen')
    .description('write a new random key file (mode 0600) to seal CA keys with, instead of a passphrase')
    .requiredOption('--out <file>', 'where to write the key file')
    .action(
      action((options: { out: string }) => {
        if (existsSync(options.out)) {
          throw new InterlockError('IL_ERR_USAGE', `${options.out} already exists; refusing to overwrite a key`, { field: '--out' });
        }
        writeFileAtomic(options.out, generateKeyFileContent(), 0o600);
        process.stdout.write(`key file written to ${options.out} (keep it apart from the state folder)\n`);
      }),
    );
}
