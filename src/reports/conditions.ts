/**
 * Turns the enumerated decisions of one (identity, service) pair into what a
 * reader needs: which methods are allowed, by which policies, and under
 * which condition on path, purpose or time when not under all of them.
 * Pure; trust-boundaries.ts feeds it.
 */

/** One enumerated request context: labels as the report prints them. */
export interface Variant {
  readonly method: string;
  readonly path: string;
  readonly purpose: string;
  readonly instant: string;
}

export interface Outcome {
  readonly variant: Variant;
  readonly allowed: boolean;
  readonly policyIds: readonly string[];
}

export interface Grant {
  /** In enumeration order; `*` for any method (every enumerated one, or the policies never read context.method). */
  readonly methods: readonly string[];
  /** null: allowed whatever the enumerated path, purpose and time. */
  readonly condition: string | null;
  /** The determining permits, sorted. */
  readonly policies: readonly string[];
}

/** The "any other value" labels of each dimension, for phrasing conditions as exclusions. */
export interface Dimensions {
  readonly paths: readonly string[];
  readonly purposes: readonly string[];
  readonly instants: readonly string[];
  readonly otherPath: string;
  readonly otherPurpose: string;
}

const MAX_LISTED = 4;
export const ANY_METHOD = '*';

function setText(values: readonly string[]): string {
  return `{${values.join(', ')}}`;
}

/** "path in {/charges}", or "path not in {/admin}" when the unmentioned value is among the allowed ones. */
function dimensionCondition(name: string, all: readonly string[], allowed: ReadonlySet<string>, other: string | null): string | null {
  if (allowed.size === all.length) return null;
  if (other !== null && allowed.has(other)) return `${name} not in ${setText(all.filter((v) => !allowed.has(v)))}`;
  return `${name} in ${setText(all.filter((v) => allowed.has(v)))}`;
}

function timeCondition(all: readonly string[], allowed: ReadonlySet<string>): string | null {
  if (allowed.size === all.length) return null;
  const listed = all.filter((v) => allowed.has(v));
  const shown = listed.slice(0, MAX_LISTED).join(', ') + (listed.length > MAX_LISTED ? ', …' : '');
  return `time: allowed at ${listed.length} of ${all.length} sampled instants (${shown})`;
}

/** The condition under which `allowed` (a subset of all path × purpose × instant variants of one method) holds. */
export function conditionOf(allowed: readonly Variant[], dims: Dimensions): string | null {
  const total = dims.paths.length * dims.purposes.length * dims.instants.length;
  if (allowed.length === total) return null;
  const paths = new Set(allowed.map((v) => v.path));
  const purposes = new Set(allowed.map((v) => v.purpose));
  const instants = new Set(allowed.map((v) => v.instant));
  // When the allowed variants are a full product of their projections, each dimension's condition is independent.
  if (paths.size * purposes.size * instants.size === allowed.length) {
    return [
      dimensionCondition('path', dims.paths, paths, dims.otherPath),
      dimensionCondition('purpose', dims.purposes, purposes, dims.otherPurpose),
      timeCondition(dims.instants, instants),
    ]
      .filter((c): c is string => c !== null)
      .join(' and ');
  }
  const combos = allowed.map((v) => `path ${v.path}, purpose ${v.purpose}${dims.instants.length > 1 ? `, at ${v.instant}` : ''}`);
  return `only ${allowed.length} of ${total} enumerated combinations: ${combos.slice(0, MAX_LISTED).join('; ')}${combos.length > MAX_LISTED ? '; …' : ''}`;
}

/** Groups the allowed outcomes by method, then methods with the same condition and policies into one grant. */
export function grantsOf(outcomes: readonly Outcome[], methodOrder: readonly string[], dims: Dimensions): Grant[] {
  const byMethod = new Map<string, Outcome[]>();
  for (const outcome of outcomes) {
    if (!outcome.allowed) continue;
    byMethod.set(outcome.variant.method, [...(byMethod.get(outcome.variant.method) ?? []), outcome]);
  }
  const grants: Array<{ methods: string[]; condition: string | null; policies: string[] }> = [];
  for (const method of methodOrder) {
    const allowed = byMethod.get(method);
    if (!allowed) continue;
    const condition = conditionOf(allowed.map((o) => o.variant), dims);
    const policies = [...new Set(allowed.flatMap((o) => o.policyIds))].sort();
    const same = grants.find((g) => g.condition === condition && g.policies.join('\n') === policies.join('\n'));
    if (same) same.methods.push(method);
    else grants.push({ methods: [method], condition, policies });
  }
  // Every enumerated method, the unmentioned one included, under one condition: any method.
  if (grants.length === 1 && methodOrder.length > 1 && grants[0]!.methods.length === methodOrder.length) grants[0]!.methods = [ANY_METHOD];
  return grants;
}
