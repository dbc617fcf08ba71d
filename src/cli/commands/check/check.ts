import http from 'node:http';
import type { Command } from 'commander';
import { InterlockError } from '../../../errors.ts';
import { evaluateGateway, type CheckResult, type GatewayHealth } from '../../../gateway/checks.ts';
import { EXIT_FAILED, EXIT_OK, action } from '../../run.ts';
import { splitHostPort } from '../../../config/host-port.ts';

function fetchHealth(address: string): Promise<GatewayHealth> {
  const { host, port } = splitHostPort(address);
  return new Promise((resolve, reject) => {
    const request = http.get({ host, port, path: '/healthz?probe=peers', timeout: 10_000 }, (res) => {
      let text = '';
      res.on('data', (chunk: Buffer) => (text += chunk));
      res.on('end', () => {
        try {
          resolve(JSON.parse(text) as GatewayHealth);
        } catch {
          reject(new Error(`not a gateway admin port (answer was not JSON)`));
        }
      });
    });
    request.on('timeout', () => request.destroy(new Error('timeout')));
    request.on('error', reject);
  });
}

export function registerCheck(program: Command): void {
  program
    .command('check')
    .description("check every gateway like `linkerd check`: SVID and bundle lifetimes, policy bundle, clock skew, and a real mTLS handshake to each peer; exits 1 if anything fails")
    .requiredOption('--gateway <admin...>', "gateways' admin addresses (host:port of admin.listen)")
    .option('--json', 'print the results as JSON')
    .action(
      action(async (options: { gateway: string[]; json?: boolean }) => {
        const results: CheckResult[] = [];
        for (const address of options.gateway) {
          if (!/^[^:]+:\d{1,5}$/.test(address)) throw new InterlockError('IL_ERR_USAGE', `${address} is not host:port`, { field: '--gateway' });
          try {
            results.push(...evaluateGateway(await fetchHealth(address), Date.now()));
          } catch (error) {
            results.push({ cluster: address, name: 'gateway reachable', ok: false, detail: (error as Error).message });
          }
        }
        const ok = results.every((r) => r.ok);
        if (options.json) process.stdout.write(JSON.stringify({ ok, results }, null, 2) + '\n');
        else {
          for (const r of results) process.stdout.write(`${r.ok ? '✔' : '✘'} ${r.cluster.padEnd(8)} ${r.name.padEnd(16)} ${r.detail}\n`);
          process.stdout.write(ok ? `\nall ${results.length} checks passed\n` : `\n${results.filter((r) => !r.ok).length} of ${results.length} checks failed\n`);
        }
        return ok ? EXIT_OK : EXIT_FAILED;
      }),
    );
}
