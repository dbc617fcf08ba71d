import type { Command } from 'commander';
import { InterlockError } from '../errors.ts';
import type { ApiConnection } from '../client/api.ts';
import { readKeyMaterial } from '../util/files.ts';

const read = (p: string, f: string) => readKeyMaterial(p, f).toString('utf8').trim();

/** Connection flags shared by every command that talks to the control plane. */
export function withApi(command: Command): Command {
  return command
    .option('--server <url>', 'control plane URL (default $INTERLOCK_SERVER or https://127.0.0.1:8443)')
    .option('--token-file <file>', 'file holding your admin token (default: $INTERLOCK_TOKEN)')
    .option('--ca-file <file>', 'trust bundle PEM to verify the control plane (default $INTERLOCK_CA_FILE)')
    .option('--json', 'print the result as JSON');
}

export interface ApiOptions {
  server?: string;
  tokenFile?: string;
  caFile?: string;
  json?: boolean;
}

export function connectionFrom(options: ApiOptions): ApiConnection {
  const caFile = options.caFile ?? process.env.INTERLOCK_CA_FILE;
  if (!caFile) {
    throw new InterlockError('IL_ERR_USAGE', 'the control plane is verified against its trust bundle, and none was given', {
      field: '--ca-file',
      hint: 'pass --ca-file <bundle.pem> or set INTERLOCK_CA_FILE (GET /v1/bundle.pem, fetched over a channel you trust)',
    });
  }
  const token = options.tokenFile ? read(options.tokenFile, '--token-file') : process.env.INTERLOCK_TOKEN;
  return {
    server: options.server ?? process.env.INTERLOCK_SERVER ?? 'https://127.0.0.1:8443',
    bundlePem: read(caFile, '--ca-file'),
    ...(token ? { token } : {}),
  };
}

/** Prints JSON with --json, else the human rendering. */
export function output<T>(options: ApiOptions, value: T, render: (value: T) => string): void {
  process.stdout.write(options.json ? JSON.stringify(value, null, 2) + '\n' : render(value).replace(/\n?$/, '\n'));
}

export function table(headers: string[], rows: string[][]): string {
  if (rows.length === 0) return '(none)';
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
  return [line(headers), ...rows.map(line)].join('\n');
}
