import { existsSync, statSync } from 'node:fs';
import type { Command } from 'commander';
import { InterlockError } from '../../../errors.ts';
import { auditChainBrokenError, findAuditLogs, verifyAuditLog, type AuditVerification } from '../../../audit/verify.ts';
import { EXIT_FAILED, EXIT_OK, action } from '../../run.ts';
import { DEFAULT_STATE_DIR, STATE_DIR_ENV } from '../../options.ts';

function targets(paths: string[]): string[] {
  const start = paths.length ? paths : [process.env[STATE_DIR_ENV] ?? DEFAULT_STATE_DIR];
  return start.flatMap((path) => {
    if (!existsSync(path)) throw new InterlockError('IL_ERR_AUDIT_LOG_UNREADABLE', `${path} does not exist`, { field: 'path' });
    return statSync(path).isDirectory() ? findAuditLogs(path) : [path];
  });
}

export function registerAuditVerify(audit: Command): void {
  audit
    .command('verify')
    .description('check that no audit record was altered, removed or reordered; exits 1 with IL_ERR_AUDIT_CHAIN_BROKEN if one was')
    .argument('[paths...]', 'audit chain files (*.audit.jsonl) or folders to search (default: the state folder)')
    .option('--json', 'print the result as JSON')
    .action(
      action((paths: string[], options: { json?: boolean }) => {
        const files = targets(paths);
        if (files.length === 0) throw new InterlockError('IL_ERR_AUDIT_LOG_UNREADABLE', 'no *.audit.jsonl file found', { field: 'path' });
        const results: AuditVerification[] = files.map((file) => verifyAuditLog(file));
        const broken = results.filter((r) => !r.ok);
        if (options.json) {
          const enriched = results.map((r) => (r.ok ? r : { ...r, code: 'IL_ERR_AUDIT_CHAIN_BROKEN' }));
          process.stdout.write(JSON.stringify({ ok: broken.length === 0, chains: enriched }, null, 2) + '\n');
        } else {
          for (const r of results) {
            process.stdout.write(r.ok ? `ok      ${r.path}: ${r.count} records, head ${r.head.slice(0, 16)}…\n` : `BROKEN  ${r.path}\n`);
          }
        }
        for (const r of broken) if (!r.ok) process.stderr.write(`interlock: error ${auditChainBrokenError(r).toLine()}\n`);
        return broken.length === 0 ? EXIT_OK : EXIT_FAILED;
      }),
    );
}
