import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { InterlockError } from '../../../errors.ts';
import { apiRequest } from '../../../client/api.ts';
import { verifyExcerpt, type AuditExcerpt } from '../../../audit/checkpoint.ts';
import { parseCertificatesPem } from '../../../pki/x509.ts';
import { writeFileAtomic } from '../../../util/files.ts';
import { EXIT_FAILED, action } from '../../run.ts';
import { connectionFrom, output, table, withApi, type ApiOptions } from '../../api-options.ts';

type Exported = AuditExcerpt & { stream: string };

function readBundle(file: string): Exported {
  try {
    const value = JSON.parse(readFileSync(file, 'utf8')) as Exported;
    if (!Array.isArray(value.records) || typeof value.checkpoint !== 'string') throw new Error('no records and checkpoint');
    return value;
  } catch (error) {
    throw new InterlockError('IL_ERR_EVIDENCE_INVALID', `${file} is not an audit export: ${(error as Error).message}`, { field: 'file' });
  }
}

export function registerAuditExport(audit: Command): void {
  withApi(audit.command('export'))
    .description('write a portable, signed excerpt of one audit chain (role auditor): verifies offline with the trust bundle alone')
    .requiredOption('--stream <name>', 'control-plane, or a gateway stream (usually the cluster name)')
    .option('--from <time>', 'first record time (ISO 8601)')
    .option('--to <time>', 'last record time (ISO 8601)')
    .requiredOption('--out <file>', 'where to write the export (JSON)')
    .action(
      action(async (options: ApiOptions & { stream: string; from?: string; to?: string; out: string }) => {
        for (const flag of ['from', 'to'] as const) {
          if (options[flag] && Number.isNaN(Date.parse(options[flag]))) throw new InterlockError('IL_ERR_USAGE', `--${flag} must be an ISO 8601 time`, { field: `--${flag}` });
        }
        const query = new URLSearchParams({ stream: options.stream, ...(options.from ? { from: new Date(options.from).toISOString() } : {}), ...(options.to ? { to: new Date(options.to).toISOString() } : {}) });
        const { body } = await apiRequest<Exported>(connectionFrom(options), 'GET', `/v1/audit/export?${query}`);
        writeFileAtomic(options.out, JSON.stringify(body, null, 2) + '\n', 0o600);
        const first = body.records[0]!;
        const last = body.records.at(-1)!;
        output(options, { file: options.out, stream: body.stream, records: body.records.length, first: first.seq, last: last.seq }, (r) => `${r.file}: ${r.records} records of ${r.stream} (#${r.first}–#${r.last}, ${first.time} – ${last.time}) under a signed checkpoint`);
      }),
    );

  audit
    .command('verify-export')
    .description('check an audit export offline: every record linked, the last one equal to the signed checkpoint, the signer chaining to the bundle')
    .argument('<file>', 'an export from interlock audit export')
    .requiredOption('--ca-file <file>', "the control plane's trust bundle (PEM)")
    .option('--json', 'print the result as JSON')
    .action(
      action(async (file: string, options: { caFile: string; json?: boolean }) => {
        const bundle = readBundle(file);
        try {
          const { count, checkpoint } = await verifyExcerpt(bundle, parseCertificatesPem(readFileSync(options.caFile, 'utf8')), new Date());
          const result = { file, ok: true, stream: bundle.stream, records: count, head: checkpoint.seq, signedAt: checkpoint.at };
          process.stdout.write(options.json ? JSON.stringify(result, null, 2) + '\n' : `ok      ${file}: ${count} records of ${bundle.stream} up to #${checkpoint.seq}, checkpoint signed ${checkpoint.at}\n`);
          return 0;
        } catch (error) {
          if (!(error instanceof InterlockError)) throw error;
          process.stdout.write(options.json ? JSON.stringify({ file, ok: false, code: error.code, reason: error.message }, null, 2) + '\n' : `FAILED  ${file}\n`);
          process.stderr.write(`interlock: error ${error.toLine()}\n`);
          return EXIT_FAILED;
        }
      }),
    );

  withApi(audit.command('query'))
    .description('search the audit chains the control plane holds (role auditor): decisions, calls, credential and admin events')
    .option('--stream <name>', 'only this chain (control-plane or a gateway stream)')
    .option('--principal <spiffe-id>', 'calling workload (or actor)')
    .option('--resource <cluster/service>', 'called service, e.g. west/billing')
    .option('--decision <allow|deny>', 'policy decision or call outcome')
    .option('--type <type>', 'record type, e.g. policy.decision, svid.issued')
    .option('--trace-id <id>', 'W3C trace id (32 hex)')
    .option('--since <time>', 'from this time (ISO 8601)')
    .option('--until <time>', 'up to this time (ISO 8601)')
    .option('--limit <n>', 'at most this many records', '100')
    .action(
      action(async (options: ApiOptions & { stream?: string; principal?: string; resource?: string; decision?: string; type?: string; traceId?: string; since?: string; until?: string; limit: string }) => {
        if (options.decision && options.decision !== 'allow' && options.decision !== 'deny') throw new InterlockError('IL_ERR_USAGE', '--decision must be allow or deny', { field: '--decision' });
        if (!/^\d+$/.test(options.limit)) throw new InterlockError('IL_ERR_USAGE', '--limit must be a whole number', { field: '--limit' });
        const params: Record<string, string> = { limit: options.limit };
        for (const key of ['stream', 'principal', 'resource', 'decision', 'type', 'traceId'] as const) if (options[key]) params[key] = options[key]!;
        for (const key of ['since', 'until'] as const) {
          if (!options[key]) continue;
          if (Number.isNaN(Date.parse(options[key]!))) throw new InterlockError('IL_ERR_USAGE', `--${key} must be an ISO 8601 time`, { field: `--${key}` });
          params[key] = new Date(options[key]!).toISOString();
        }
        const { body } = await apiRequest<Array<{ stream: string; seq: number; time: string; type: string; actor?: string; data: Record<string, unknown> }>>(connectionFrom(options), 'GET', `/v1/audit/query?${new URLSearchParams(params)}`);
        output(options, body, (rows) =>
          table(
            ['time', 'stream', 'seq', 'type', 'principal', 'resource', 'decision', 'trace'],
            rows.map((r) => [
              r.time,
              r.stream,
              String(r.seq),
              r.type,
              String(r.data.principal ?? r.actor ?? ''),
              String(r.data.resource ?? r.data.target ?? ''),
              String(r.data.decision ?? r.data.outcome ?? ''),
              String(r.data.traceId ?? ''),
            ]),
          ),
        );
      }),
    );
}
