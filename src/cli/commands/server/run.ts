import { Option, type Command } from 'commander';
import { InterlockError } from '../../../errors.ts';
import { loadServerConfig, storeSpecWithPassword } from '../../../server/config.ts';
import { createLogger } from '../../../telemetry/logger.ts';
import { resolveKeySecret } from '../../../pki/key-protection.ts';
import { action, runUntilStopped } from '../../run.ts';
import { registerServerBundle } from './bundle.ts';

export function registerServer(program: Command): void {
  const server = program
    .command('server')
    .description('run the control plane: CA, registration, attestation, watch stream and admin API (docs/control-plane.md)')
    // Not requiredOption: `server bundle --config` must reach the subcommand.
    .option('--config <file>', 'server configuration (YAML or JSON); required')
    .option('--bootstrap-admin-token-file <file>', 'on an empty store, create admin "admin" (operator, key-custodian, auditor) and write its token here')
    .addOption(new Option('--stop-with-stdin', 'stop when standard input closes (used by the lab)').hideHelp())
    .action(
      action(async (options: { config?: string; bootstrapAdminTokenFile?: string; stopWithStdin?: boolean }) => {
        if (!options.config) throw new InterlockError('IL_ERR_USAGE', "required option '--config <file>' not specified", { field: '--config' });
        const config = loadServerConfig(options.config);
        const secret = resolveKeySecret({ ...config.secret, env: process.env });
        const log = createLogger({ name: 'server' });
        // Loaded on demand: the server pulls in Fastify and the database drivers, which other commands never need.
        const { startControlPlane } = await import('../../../server/server.ts');
        const running = await startControlPlane(config, {
          log,
          secret,
          storeSpec: storeSpecWithPassword(config.store, process.env),
          ...(options.bootstrapAdminTokenFile ? { bootstrapAdminTokenFile: options.bootstrapAdminTokenFile } : {}),
        });
        await runUntilStopped({
          stopWithStdin: options.stopWithStdin === true,
          onStop: (reason) => log.info({ event: 'server.stopping', reason }, 'control plane stopping'),
          close: () => running.close(),
        });
      }, { exitOnError: true }),
    );
  registerServerBundle(server);
}
