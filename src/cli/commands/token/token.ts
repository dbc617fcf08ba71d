import type { Command } from 'commander';
import { apiRequest } from '../../../client/api.ts';
import { parseDuration } from '../../../pki/certificates.ts';
import { writeFileAtomic } from '../../../util/files.ts';
import { action } from '../../run.ts';
import { connectionFrom, output, withApi, type ApiOptions } from '../../api-options.ts';

interface JoinToken {
  token: string;
  entryId: string;
  spiffeId: string;
  expiresAt: string;
}

export function registerToken(program: Command): void {
  const token = program.command('token').description('single-use join tokens for attestation (role operator)');
  withApi(token.command('create'))
    .description('create a join token for a registration entry; it is shown once')
    .requiredOption('--entry <id>', 'registration entry the token attests to')
    .option('--ttl <duration>', 'how long the token stays usable (1m to 24h)', '10m')
    .option('--out <file>', 'write the token to this file (mode 0600) instead of printing it')
    .action(
      action(async (options: ApiOptions & { entry: string; ttl: string; out?: string }) => {
        const ttlSeconds = Math.round(parseDuration(options.ttl, '--ttl') / 1000);
        const { body } = await apiRequest<JoinToken>(connectionFrom(options), 'POST', '/v1/join-tokens', { entryId: options.entry, ttlSeconds });
        if (options.out) writeFileAtomic(options.out, body.token + '\n', 0o600);
        const shown = options.out ? { ...body, token: `(written to ${options.out})` } : body;
        output(options, shown, (t) => `join token for ${t.spiffeId}, single-use, expires ${t.expiresAt}:\n${t.token}`);
      }),
    );
}
