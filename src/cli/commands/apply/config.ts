import type { Command } from 'commander';
import { apiRequest } from '../../../client/api.ts';
import { checkDesiredState } from '../../../declarative/normalise.ts';
import { renderPlan } from '../../../declarative/render.ts';
import { appliesSomething } from '../../../declarative/types.ts';
import { InterlockError } from '../../../errors.ts';
import type { ConfigRevisionRow, ConfigRevisionSummary } from '../../../store/types.ts';
import { EXIT_OK, action } from '../../run.ts';
import { connectionFrom, table, withApi } from '../../api-options.ts';
import { deliverTokens, planRemote, wantsJson, withDeclarativeOptions, type ApplyResponse, type DeclarativeOptions } from './remote.ts';

/** `interlock config revisions` and `interlock config rollback <revision>`. */
export function registerConfig(program: Command): void {
  const config = program.command('config').description('revisions of the declarative configuration applied with interlock apply');

  withDeclarativeOptions(withApi(config.command('revisions')))
    .description('list applied revisions (role operator or auditor)')
    .action(
      action(async (options: DeclarativeOptions) => {
        const { body } = await apiRequest<ConfigRevisionSummary[]>(connectionFrom(options), 'GET', '/v1/config/revisions');
        if (wantsJson(options)) process.stdout.write(JSON.stringify(body, null, 2) + '\n');
        else {
          const rows = body.map((r) => [String(r.revision), r.action === 'rollback' ? `rollback to ${r.sourceRevision}` : 'apply', r.actor, r.createdAt, `${r.digest.slice(0, 19)}…`]);
          process.stdout.write(table(['revision', 'action', 'by', 'at', 'digest'], rows) + '\n');
        }
      }),
    );

  withDeclarativeOptions(withApi(config.command('rollback')))
    .description("apply an earlier revision's configuration again, as a new revision: shows the diff, then applies it (role operator)")
    .argument('<revision>', 'revision number (interlock config revisions)')
    .option('--token-dir <dir>', "write new admins' tokens to <dir>/<name>.token (mode 0600) instead of printing them")
    .action(
      action(async (revision: string, options: DeclarativeOptions & { tokenDir?: string }) => {
        if (!/^[1-9]\d*$/.test(revision)) throw new InterlockError('IL_ERR_USAGE', `revision must be a number, got ${revision}`, { field: 'revision' });
        const json = wantsJson(options);
        const connection = connectionFrom(options);
        const prune = Boolean(options.prune);
        const { body: stored } = await apiRequest<ConfigRevisionRow>(connection, 'GET', `/v1/config/revisions/${revision}`);
        const plan = await planRemote(connection, checkDesiredState(stored.document), prune);
        if (!appliesSomething(plan)) {
          process.stdout.write(json ? JSON.stringify({ plan, revision: null, admins: [] }, null, 2) + '\n' : `${renderPlan(plan)}\nnothing to roll back: the control plane already matches revision ${revision}\n`);
          return EXIT_OK;
        }
        if (!json) process.stdout.write(`${renderPlan(plan)}\n`);
        const { body: result } = await apiRequest<ApplyResponse>(connection, 'POST', `/v1/config/revisions/${revision}/rollback`, { base: plan.base, prune });
        const admins = deliverTokens(result.admins, options.tokenDir);
        if (json) process.stdout.write(JSON.stringify({ ...result, admins }, null, 2) + '\n');
        else {
          const lines = [`rolled back: revision ${result.revision!.revision} applies revision ${revision}'s configuration again`];
          for (const a of admins) lines.push(a.file ? `admin ${a.name} created; token written to ${a.file}` : `admin ${a.name} created; token (shown once):\n${a.token}`);
          process.stdout.write(lines.join('\n') + '\n');
        }
        return EXIT_OK;
      }),
    );
}
