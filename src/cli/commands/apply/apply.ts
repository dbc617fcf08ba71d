import type { Command } from 'commander';
import { loadConfiguration } from '../../../declarative/load.ts';
import { renderPlan } from '../../../declarative/render.ts';
import { appliesSomething } from '../../../declarative/types.ts';
import { EXIT_OK, action } from '../../run.ts';
import { connectionFrom, withApi } from '../../api-options.ts';
import { registerConfig } from './config.ts';
import { EXIT_DRIFT, applyRemote, deliverTokens, planRemote, pointAtFiles, wantsJson, withDeclarativeOptions, type DeclarativeOptions } from './remote.ts';

type FileOptions = DeclarativeOptions & { filename: string; tokenDir?: string };

/**
 * `interlock apply -f <dir>`, `interlock diff -f <dir>` and `interlock config …`
 * (docs/declarative.md). The files are checked here first, whole: any problem
 * rejects the set before the control plane is asked anything.
 */
export function registerDeclarative(program: Command): void {
  withDeclarativeOptions(withApi(program.command('apply')))
    .description('make the control plane match a directory of YAML files: shows the diff, then applies it in one transaction as a new revision (role operator; policy-author too if the policy changes)')
    .requiredOption('-f, --filename <path>', 'directory of .yaml files (or one file)')
    .option('--token-dir <dir>', "write new admins' tokens to <dir>/<name>.token (mode 0600) instead of printing them")
    .action(
      action(async (options: FileOptions) => {
        const json = wantsJson(options);
        const { desired, sources } = loadConfiguration(options.filename);
        const connection = connectionFrom(options);
        const prune = Boolean(options.prune);
        try {
          const plan = await planRemote(connection, desired, prune);
          if (!appliesSomething(plan)) {
            process.stdout.write(json ? JSON.stringify({ plan, revision: null, admins: [] }, null, 2) + '\n' : `${renderPlan(plan)}\nnothing to apply\n`);
            return EXIT_OK;
          }
          if (!json) process.stdout.write(`${renderPlan(plan)}\n`);
          const result = await applyRemote(connection, desired, plan, prune);
          const admins = deliverTokens(result.admins, options.tokenDir);
          if (json) process.stdout.write(JSON.stringify({ ...result, admins }, null, 2) + '\n');
          else {
            const lines = [`applied: revision ${result.revision!.revision} (${result.revision!.digest.slice(0, 19)}…) by ${result.revision!.actor}`];
            for (const a of admins) lines.push(a.file ? `admin ${a.name} created; token written to ${a.file}` : `admin ${a.name} created; token (shown once):\n${a.token}`);
            process.stdout.write(lines.join('\n') + '\n');
          }
          return EXIT_OK;
        } catch (error) {
          throw pointAtFiles(error, sources);
        }
      }),
    );

  withDeclarativeOptions(withApi(program.command('diff')))
    .description(`show how the control plane differs from a directory of YAML files; exit 0 in sync, ${EXIT_DRIFT} when it differs (role operator or auditor)`)
    .requiredOption('-f, --filename <path>', 'directory of .yaml files (or one file)')
    .action(
      action(async (options: FileOptions) => {
        const json = wantsJson(options);
        const { desired, sources } = loadConfiguration(options.filename);
        try {
          const plan = await planRemote(connectionFrom(options), desired, Boolean(options.prune));
          const inSync = plan.changes.length === 0;
          process.stdout.write(json ? JSON.stringify({ inSync, plan }, null, 2) + '\n' : `${renderPlan(plan)}\n`);
          return inSync ? EXIT_OK : EXIT_DRIFT;
        } catch (error) {
          throw pointAtFiles(error, sources);
        }
      }),
    );

  registerConfig(program);
}
