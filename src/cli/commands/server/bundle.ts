import type { Command } from 'commander';
import { InterlockError } from '../../../errors.ts';
import { loadServerConfig, storeSpecWithPassword } from '../../../server/config.ts';
import { writeFileAtomic } from '../../../util/files.ts';
import { action } from '../../run.ts';

/** Reads the store directly, like `spire-server bundle show`: how the first copy of the bundle reaches clients. */
export async function exportBundle(storeSpec: string): Promise<string> {
  const { openStore } = await import('../../../store/open.ts');
  const { bundlePemFromStore } = await import('../../../server/ca-service.ts');
  const store = await openStore(storeSpec);
  try {
    const pem = await bundlePemFromStore(store);
    if (!pem) throw new InterlockError('IL_ERR_CA_NOT_INITIALIZED', 'the store holds no root CA yet; start the server once', { field: 'store' });
    return pem;
  } finally {
    await store.close();
  }
}

export function registerServerBundle(server: Command): void {
  server
    .command('bundle')
    .description("print the trust bundle (PEM) from the server's store, to hand to gateways and CLIs as their --ca-file")
    .requiredOption('--config <file>', 'server configuration')
    .option('--out <file>', 'write it to a file instead')
    .action(
      action(async (options: { config: string; out?: string }) => {
        const config = loadServerConfig(options.config);
        const pem = await exportBundle(storeSpecWithPassword(config.store, process.env));
        if (options.out) writeFileAtomic(options.out, pem, 0o644);
        else process.stdout.write(pem);
      }),
    );
}
