import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { InterlockError } from '../../../errors.ts';
import { apiRequest } from '../../../client/api.ts';
import type { PolicyVersionRow } from '../../../store/types.ts';
import { action } from '../../run.ts';
import { connectionFrom, output, table, withApi, type ApiOptions } from '../../api-options.ts';

function describe(p: PolicyVersionRow): string {
  return `policy version ${p.version} (${p.digest.slice(0, 19)}…) is ${p.status}; proposed by ${p.proposedBy}${p.decidedBy ? `, ${p.status} by ${p.decidedBy}` : ''}`;
}

export function registerPolicy(program: Command): void {
  const policy = program.command('policy').description('Cedar policy versions: propose (policy-author), approve and activate (another policy-approver)');
  withApi(policy.command('propose'))
    .description('propose a Cedar policy file as a new version')
    .argument('<file>', '.cedar file')
    .option('--comment <text>', 'why')
    .option('--schema <file>', 'a Cedar schema to validate the policies against (e.g. examples/policies/interlock.cedarschema)')
    .action(
      action(async (file: string, options: ApiOptions & { comment?: string; schema?: string }) => {
        const read = (path: string, field: string) => {
          try {
            return readFileSync(path, 'utf8');
          } catch (error) {
            throw new InterlockError('IL_ERR_CONFIG_NOT_FOUND', `cannot read ${path}: ${(error as NodeJS.ErrnoException).code ?? 'error'}`, { field });
          }
        };
        const text = read(file, 'file');
        const body0 = { text, ...(options.comment ? { comment: options.comment } : {}), ...(options.schema ? { schema: read(options.schema, '--schema') } : {}) };
        const { body } = await apiRequest<PolicyVersionRow>(connectionFrom(options), 'POST', '/v1/policies', body0);
        output(options, body, describe);
      }),
    );
  withApi(policy.command('list'))
    .description('list policy versions and their states')
    .action(
      action(async (options: ApiOptions) => {
        const { body } = await apiRequest<PolicyVersionRow[]>(connectionFrom(options), 'GET', '/v1/policies');
        output(options, body, (rows) => table(['version', 'status', 'digest', 'proposed by', 'decided by'], rows.map((p) => [String(p.version), p.status, p.digest.slice(0, 19), p.proposedBy, p.decidedBy ?? '-'])));
      }),
    );
  for (const [verb, what] of [
    ['approve', 'approve a proposed version (not your own)'],
    ['activate', 'activate an approved version (not your own); the active one is superseded'],
    ['reject', 'reject a proposed version'],
  ] as const) {
    withApi(policy.command(verb))
      .description(what)
      .argument('<version>', 'version number')
      .option('--comment <text>', 'why')
      .action(
        action(async (version: string, options: ApiOptions & { comment?: string }) => {
          if (!/^\d+$/.test(version)) throw new InterlockError('IL_ERR_USAGE', `version must be a number, got ${version}`, { field: 'version' });
          const { body } = await apiRequest<PolicyVersionRow>(connectionFrom(options), 'POST', `/v1/policies/${version}/${verb}`, options.comment ? { comment: options.comment } : {});
          output(options, body, describe);
        }),
      );
  }
}
