import { existsSync, readFileSync, statSync } from 'node:fs';
import type { Command } from 'commander';
import { InterlockError } from '../../../errors.ts';
import { apiRequest } from '../../../client/api.ts';
import { findAuditLogs } from '../../../audit/verify.ts';
import type { AuditRecord } from '../../../audit/record.ts';
import { PolicyDecisionPoint, loadPolicyFile } from '../../../policy/pdp.ts';
import { simulate } from '../../../policy/simulate.ts';
import type { PolicyVersionRow } from '../../../store/types.ts';
import { EXIT_OK, action } from '../../run.ts';
import { connectionFrom, output, table, withApi, type ApiOptions } from '../../api-options.ts';

function version(value: string): string {
  if (!/^\d+$/.test(value)) throw new InterlockError('IL_ERR_USAGE', `version must be a number, got ${value}`, { field: 'version' });
  return value;
}

function readAuditRecords(paths: string[]): AuditRecord[] {
  const files = paths.flatMap((path) => {
    if (!existsSync(path)) throw new InterlockError('IL_ERR_AUDIT_LOG_UNREADABLE', `${path} does not exist`, { field: '--audit' });
    return statSync(path).isDirectory() ? findAuditLogs(path) : [path];
  });
  return files.flatMap((file) =>
    readFileSync(file, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as AuditRecord),
  );
}

/** Staged rollout, rollback, status and simulation of policy versions. */
export function registerPolicyRollout(policy: Command): void {
  withApi(policy.command('stage'))
    .description('roll an approved version out in stages: dry-run everywhere, or canary on clusters / a percentage (policy-approver)')
    .argument('<version>', 'approved version')
    .requiredOption('--stage <stage>', 'dry-run or canary')
    .option('--clusters <names>', 'canary: comma-separated clusters that enforce the candidate')
    .option('--percent <n>', 'canary: percentage of clusters that enforce it (stable per cluster)')
    .action(
      action(async (v: string, options: ApiOptions & { stage: string; clusters?: string; percent?: string }) => {
        if (options.stage !== 'dry-run' && options.stage !== 'canary') throw new InterlockError('IL_ERR_USAGE', `--stage must be dry-run or canary, got ${options.stage}`, { field: '--stage' });
        const body = { stage: options.stage, ...(options.clusters ? { clusters: options.clusters.split(',').map((c) => c.trim()) } : {}), ...(options.percent ? { percent: Number(options.percent) } : {}) };
        const { body: rollout } = await apiRequest<{ version: number; stage: string; canary: { clusters: string[]; percent: number } }>(connectionFrom(options), 'POST', `/v1/policies/${version(v)}/stage`, body);
        output(options, rollout, (r) => `version ${r.version} is in ${r.stage}${r.stage === 'canary' ? ` on [${r.canary.clusters.join(', ')}] + ${r.canary.percent}% of clusters` : ''}`);
      }),
    );
  withApi(policy.command('rollback'))
    .description('make an earlier active version active again, as a new version (policy-approver)')
    .argument('<version>', 'the version to go back to')
    .action(
      action(async (v: string, options: ApiOptions) => {
        const { body } = await apiRequest<PolicyVersionRow>(connectionFrom(options), 'POST', `/v1/policies/${version(v)}/rollback`, {});
        output(options, body, (p) => `version ${p.version} is active: ${p.comment}`);
      }),
    );
  withApi(policy.command('status'))
    .description('where each version is, and what every gateway enforces, with dry-run disagreement counts')
    .action(
      action(async (options: ApiOptions) => {
        type Status = { active: number | null; rollout: { version: number; stage: string } | null; gateways: Array<Record<string, unknown>> };
        const { body } = await apiRequest<Status>(connectionFrom(options), 'GET', '/v1/policy/status');
        output(options, body, (s) =>
          [
            `active version: ${s.active ?? 'none'}${s.rollout ? `; version ${s.rollout.version} in ${s.rollout.stage}` : ''}`,
            table(
              ['cluster', 'state', 'enforces', 'candidate', 'mode', 'evaluated', 'disagree', 'allow→deny', 'deny→allow', 'reported'],
              s.gateways.map((g) => [g.cluster, g.state, g.enforcedVersion, g.candidateVersion, g.candidateMode, g.evaluated, g.disagreements, g.allowToDeny, g.denyToAllow, g.reportedAt].map((v) => (v === undefined || v === null ? '-' : String(v)))),
            ),
          ].join('\n'),
        );
      }),
    );
  policy
    .command('simulate')
    .description('replay recorded decisions from gateway audit logs through a candidate policy; show what would change')
    .argument('<file>', 'candidate .cedar file')
    .requiredOption('--audit <paths...>', 'gateway audit logs (*.audit.jsonl) or folders holding them')
    .option('--since <time>', 'only decisions at or after this ISO 8601 time')
    .option('--json', 'print the result as JSON')
    .action(
      action(async (file: string, options: { audit: string[]; since?: string; json?: boolean }) => {
        const since = options.since ? new Date(options.since) : undefined;
        if (since && Number.isNaN(since.getTime())) throw new InterlockError('IL_ERR_USAGE', `--since must be an ISO 8601 time, got ${options.since}`, { field: '--since' });
        const candidate = new PolicyDecisionPoint(await loadPolicyFile(file));
        const result = simulate(readAuditRecords(options.audit), candidate, since);
        output(options, result, (r) =>
          [
            `replayed ${r.replayed} decisions: ${r.unchanged} unchanged, ${r.changed} would change${r.skipped ? ` (${r.skipped} refused before policy, skipped)` : ''}`,
            table(['change', 'count', 'principal', 'resource', 'methods', 'why (first request)'], r.groups.map((g) => [g.change, String(g.count), g.principal, g.resource, g.methods.join(','), g.example])),
          ].join('\n'),
        );
        return EXIT_OK;
      }),
    );
}
