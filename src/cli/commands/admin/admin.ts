import type { Command } from 'commander';
import { apiRequest } from '../../../client/api.ts';
import { InterlockError } from '../../../errors.ts';
import { writeFileAtomic } from '../../../util/files.ts';
import type { AdminRow } from '../../../store/types.ts';
import { action } from '../../run.ts';
import { connectionFrom, output, table, withApi, type ApiOptions } from '../../api-options.ts';

export function registerAdmin(program: Command): void {
  const admin = program.command('admin').description('administrators and their roles (role operator)');
  withApi(admin.command('create'))
    .description('create an admin; roles: policy-author, policy-approver, key-custodian, auditor, operator')
    .argument('<name>', 'admin name, recorded as the actor of their actions')
    .requiredOption('--role <role...>', 'one or more roles')
    .option('--out <file>', 'write the admin token to this file (mode 0600) instead of printing it')
    .action(
      action(async (name: string, options: ApiOptions & { role: string[]; out?: string }) => {
        const { body } = await apiRequest<{ name: string; roles: string[]; token: string }>(connectionFrom(options), 'POST', '/v1/admins', { name, roles: options.role });
        if (options.out) writeFileAtomic(options.out, body.token + '\n', 0o600);
        const shown = options.out ? { ...body, token: `(written to ${options.out})` } : body;
        output(options, shown, (a) => `admin ${a.name} created with roles ${a.roles.join(', ')}; token (shown once):\n${a.token}`);
      }),
    );
  withApi(admin.command('update'))
    .description("change an admin's roles or disable them; taking authority away re-issues the identities they registered and deletes their unused join tokens")
    .argument('<name>', 'admin name')
    .option('--role <role...>', 'the roles the admin keeps or gets (replaces the current ones)')
    .option('--disable', 'disable the admin (their token stops working)')
    .option('--enable', 'enable a disabled admin')
    .action(
      action(async (name: string, options: ApiOptions & { role?: string[]; disable?: boolean; enable?: boolean }) => {
        if (!options.role && !options.disable && !options.enable) throw new InterlockError('IL_ERR_USAGE', 'give --role, --disable or --enable', { field: '--role' });
        if (options.disable && options.enable) throw new InterlockError('IL_ERR_USAGE', '--disable and --enable exclude each other', { field: '--disable' });
        const body = { ...(options.role ? { roles: options.role } : {}), ...(options.disable ? { disabled: true } : {}), ...(options.enable ? { disabled: false } : {}) };
        const { body: changed } = await apiRequest<{ name: string; roles: string[]; disabled: boolean; removedRoles: string[]; reissued: number; joinTokensDeleted: number }>(
          connectionFrom(options),
          'PATCH',
          `/v1/admins/${encodeURIComponent(name)}`,
          body,
        );
        output(options, changed, (a) =>
          [
            `admin ${a.name}: roles ${a.roles.join(', ')}${a.disabled ? ' (disabled)' : ''}`,
            ...(a.removedRoles.length || a.reissued || a.joinTokensDeleted ? [`  authority withdrawn: ${a.reissued} SVIDs of identities they registered revoked for re-issue, ${a.joinTokensDeleted} unused join tokens deleted`] : []),
          ].join('\n'),
        );
      }),
    );
  withApi(admin.command('list'))
    .description('list admins')
    .action(
      action(async (options: ApiOptions) => {
        const { body } = await apiRequest<Omit<AdminRow, 'tokenHash'>[]>(connectionFrom(options), 'GET', '/v1/admins');
        output(options, body, (rows) => table(['name', 'roles', 'disabled', 'created', 'by'], rows.map((a) => [a.name, a.roles.join(','), String(a.disabled), a.createdAt, a.createdBy])));
      }),
    );
}
