import type { Command } from 'commander';
import { loadServerConfig, storeSpecWithPassword } from '../../../server/config.ts';
import { createLogger } from '../../../telemetry/logger.ts';
import { resolveKeySecret } from '../../../pki/key-protection.ts';
import { action } from '../../run.ts';

export function registerServer(program: Command): void {
  program
    .command('server')
    .description('run the control plane: CA, registration, attestation, watch stream and admin API (docs/control-plane.md)')
    .requiredOption('--config <file>', 'server configuration (YAML or JSON)')
    .option('--bootstrap-admin-token-file <file>', 'on an empty store, create admin "admin" (operator, key-custodian, auditor) and write its token here')
    .action(
      action(async (options: { config: string; bootstrapAdminTokenFile?: string }) => {
        const config = loadServerConfig(options.config);
        const secret = resolveKeySecret({ ...config.secret, env: process.env });
        const log = createLogger({ name: 'server' });
        // Loaded on demand: the server pulls in Fastify and the database drivers, which other commands never need.
        const { startControlPlane } = await import('../../../server/server.ts');
        const server = await startControlPlane(config, {
          log,
          secret,
          storeSpec: storeSpecWithPassword(config.store, process.env),
          ...(options.bootstrapAdminTokenFile ? { bootstrapAdminTokenFile: options.bootstrapAdminTokenFile } : {}),
        });
        await new Promise<void>((resolve) => {
          let stopping = false;
          const stop = (reason: string) => {
            if (stopping) return;
            stopping = true;
            log.info({ event: 'server.stopping', reason }, 'control plane stopping');
            void server.close().then(resolve);
          };
          process.once('SIGTERM', () => stop('SIGTERM'));
          process.once('SIGINT', () => stop('SIGINT'));
        });
      }),
    );
}
