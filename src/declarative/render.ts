/**
 * A plan as text, one object per line with its changed fields under it:
 *
 *   + create   ~ update, replace or policy proposal   - delete (or disable, for an admin)
 *   ! on the server but not in the files, left alone (drift)
 */
import { appliesSomething, type Change, type ChangeAction, type Plan } from './types.ts';

const MARK: Record<ChangeAction, string> = { create: '+', update: '~', replace: '~', propose: '~', delete: '-', drift: '!' };

function shown(value: unknown): string {
  if (value === null || value === undefined) return 'none';
  if (typeof value === 'string') return value;
  if (Array.isArray(value)) return `[${value.map(shown).join(', ')}]`;
  if (typeof value === 'object') return Object.entries(value).map(([k, v]) => `${k}=${shown(v)}`).join(' ');
  return String(value);
}

function changeLines(change: Change): string[] {
  // The policy is one object (key "policy"); its documents name it better.
  const label = change.kind === 'Policy' ? (change.document ?? 'policy') : change.key;
  const named = change.document && change.document !== label ? ` (${change.document})` : '';
  const head = `${MARK[change.action]} ${change.kind} ${label}${named}${change.action === 'replace' ? ' [replace]' : ''}`;
  if (change.action === 'drift') return [`${head}: ${change.note ?? 'not in the files'}`];
  const fields = change.fields.map((f) => ('before' in f && change.action !== 'create' ? `    ${f.field}: ${shown(f.before)} → ${shown(f.after)}` : `    ${f.field}: ${shown(f.after)}`));
  return [head, ...fields, ...(change.note ? [`    (${change.note})`] : [])];
}

export function countChanges(changes: readonly Change[]): Record<ChangeAction, number> {
  const counts: Record<ChangeAction, number> = { create: 0, update: 0, replace: 0, delete: 0, propose: 0, drift: 0 };
  for (const c of changes) counts[c.action] += 1;
  return counts;
}

export function renderPlan(plan: Plan): string {
  const lines = plan.changes.flatMap(changeLines);
  const n = countChanges(plan.changes);
  const against = `against revision ${plan.base.revision || 'none'}`;
  if (plan.changes.length === 0) lines.push(`in sync: the control plane matches the files (${against})`);
  else {
    const parts = [`${n.create} to create`, `${n.update} to update`, `${n.replace} to replace`, `${n.delete} to delete`, `${n.propose} policy version${n.propose === 1 ? '' : 's'} to propose`];
    lines.push('', `${appliesSomething(plan) ? 'plan' : 'nothing to apply'}: ${parts.join(', ')}; ${n.drift} drifted (left alone) (${against})`);
  }
  for (const note of plan.notes) lines.push(`note: ${note}`);
  return lines.join('\n');
}
