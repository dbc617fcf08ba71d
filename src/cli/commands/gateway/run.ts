import { Option, type Command } from 'commander';
import { loadGatewayConfig } from '../../../gateway/config.ts';
import { startGateway } from '../../../gateway/gateway.ts';
import { assertLabConfig } from '../../../gateway/lab-unsafe.ts';
import { createLogger } from '../../../telemetry/logger.ts';
import { action, runUntilStopped } from '../../run.ts';

export function registerGateway(program: Command): void {
  program
    .command('gateway')
    .description("run one cluster's gateway: the inbound and outbound mTLS listeners (TLS 1.3) and the policy check")
    .requiredOption('--config <file>', 'gateway configuration (YAML or JSON), see docs/gateway.md')
    .addOption(new Option('--stop-with-stdin', 'stop when standard input closes (used by the lab so no gateway outlives it)').hideHelp())
    // The chaos tests' deliberately broken build (gateway/lab-unsafe.ts): refused outside a lab folder.
    .addOption(new Option('--lab-unsafe-skip-policy').hideHelp())
    .action(
      action(async (options: { config: string; stopWithStdin?: boolean; labUnsafeSkipPolicy?: boolean }) => {
        if (options.labUnsafeSkipPolicy) assertLabConfig(options.config);
        const config = loadGatewayConfig(options.config);
        const log = createLogger({ name: `gateway-${config.cluster}` });
        const gateway = await startGateway(config, { log, ...(options.labUnsafeSkipPolicy ? { labUnsafeSkipPolicy: true } : {}) });
        await runUntilStopped({
          stopWithStdin: options.stopWithStdin === true,
          onStop: (reason) => log.info({ event: 'gateway.stopping', reason }, 'gateway stopping'),
          close: () => gateway.close(),
        });
      }, { exitOnError: true }),
    );
}
