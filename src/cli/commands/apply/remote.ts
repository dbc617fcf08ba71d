/** What apply, diff and config rollback share: options, the API calls, and errors pointed back at the files. */
import { join } from 'node:path';
import type { Command } from 'commander';
import { apiRequest, type ApiConnection } from '../../../client/api.ts';
import type { Location } from '../../../declarative/parse.ts';
import type { DesiredState, Plan } from '../../../declarative/types.ts';
import { InterlockError } from '../../../errors.ts';
import type { ConfigRevisionSummary } from '../../../store/types.ts';
import { writeFileAtomic } from '../../../util/files.ts';
import type { ApiOptions } from '../../api-options.ts';

/** diff's exit code when the control plane differs from the files: 0 is in sync, 1 and 2 are taken by failures and bad input (cli/run.ts). */
export const EXIT_DRIFT = 3;

export interface DeclarativeOptions extends ApiOptions {
  output?: string;
  prune?: boolean;
}

export function withDeclarativeOptions(command: Command): Command {
  return command
    .option('-o, --output <format>', 'text or json (same as --json)', 'text')
    .option('--prune', 'also delete entries and services, and disable admins, that the files do not declare (clusters and policy versions are never deleted)');
}

export function wantsJson(options: DeclarativeOptions): boolean {
  if (options.output !== 'text' && options.output !== 'json') throw new InterlockError('IL_ERR_USAGE', `--output must be text or json, got ${options.output}`, { field: '--output' });
  return Boolean(options.json) || options.output === 'json';
}

export interface ApplyResponse {
  readonly revision: ConfigRevisionSummary | null;
  readonly plan: Plan;
  readonly admins: ReadonlyArray<{ name: string; token: string }>;
}

export async function planRemote(connection: ApiConnection, desired: DesiredState, prune: boolean): Promise<Plan> {
  return (await apiRequest<Plan>(connection, 'POST', '/v1/config/plan', { desired, prune })).body;
}

export async function applyRemote(connection: ApiConnection, desired: DesiredState, plan: Plan, prune: boolean): Promise<ApplyResponse> {
  return (await apiRequest<ApplyResponse>(connection, 'POST', '/v1/config/apply', { desired, base: plan.base, prune })).body;
}

/**
 * The server names an object as `<Kind> <name>` (declarative/normalise.ts#documentRef) in the
 * error's field; the CLI knows which file and document that came from, so it says so.
 */
export function pointAtFiles(error: unknown, sources: ReadonlyMap<string, Location>): unknown {
  if (!(error instanceof InterlockError) || !error.field) return error;
  const ref = [...sources.keys()].filter((r) => error.field === r || error.field!.startsWith(`${r} `)).sort((a, b) => b.length - a.length)[0];
  if (!ref) return error;
  const at = sources.get(ref)!;
  const rest = error.field.slice(ref.length).trim();
  return new InterlockError(error.code, `${error.message} (${at.file}:${at.line}, document ${at.index})`, { field: `${at.file}#${at.index}${rest ? ` ${rest}` : ''}`, ...(error.hint ? { hint: error.hint } : {}), cause: error });
}

/** New admins' tokens: written to <dir>/<name>.token (0600) when a folder is given, else shown once. */
export function deliverTokens(admins: ApplyResponse['admins'], tokenDir: string | undefined): Array<{ name: string; token?: string; file?: string }> {
  return admins.map(({ name, token }) => {
    if (!tokenDir) return { name, token };
    const file = join(tokenDir, `${name}.token`);
    writeFileAtomic(file, token + '\n', 0o600);
    return { name, file };
  });
}
