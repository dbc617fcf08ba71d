/**
 * The request-context values a policy set can tell apart, read from each
 * policy's Cedar JSON form (https://docs.cedarpolicy.com/policies/json-format.html):
 * the string literals compared with `context.method`, `context.path` or
 * `context.purpose` (==, !=, in, contains, containsAny, containsAll, like)
 * and the datetimes it names. The trust-boundaries report evaluates every
 * cross-cluster pair with these values, plus one value the policies do not
 * mention ("any other"), so each branch a policy can take on a literal is
 * visited. Comparisons this walk does not follow (e.g. a context attribute
 * compared with another attribute) are not enumerated; docs/reports.md
 * states the limit.
 */
import { policyToJson, type PolicyJson } from '@cedar-policy/cedar-wasm/nodejs';
import { cachedPolicyJson, type CompiledPolicies, type CompiledPolicy } from '../policy/compile.ts';

export interface PathCandidate {
  /** What the report sends as context.path. */
  readonly value: string;
  /** How the report names it: the literal, or the `like` pattern it was made from. */
  readonly label: string;
}

export interface ContextCandidates {
  readonly methods: readonly string[];
  readonly paths: readonly PathCandidate[];
  readonly purposes: readonly string[];
  /** ISO datetimes passed to Cedar's datetime(), for sampling time windows. */
  readonly datetimes: readonly string[];
}

const COMPARISONS = new Set(['==', '!=', 'in', 'contains', 'containsAny', 'containsAll']);
type Field = 'method' | 'path' | 'purpose';
const FIELDS: readonly Field[] = ['method', 'path', 'purpose'];

interface Acc {
  readonly literals: Map<Field, Map<string, string>>;
  readonly datetimes: Set<string>;
}

function contextField(expr: unknown): Field | undefined {
  const access = (expr as { '.'?: { left?: { Var?: string }; attr?: string } } | null)?.['.'];
  if (access?.left?.Var !== 'context') return undefined;
  return FIELDS.find((f) => f === access.attr);
}

function stringsIn(expr: unknown): string[] {
  if (typeof expr !== 'object' || expr === null) return [];
  const node = expr as { Value?: unknown; Set?: unknown };
  if (typeof node.Value === 'string') return [node.Value];
  if (Array.isArray(node.Set)) return node.Set.flatMap(stringsIn);
  return [];
}

function add(acc: Acc, field: Field, value: string, label = value): void {
  const seen = acc.literals.get(field)!;
  if (!seen.has(value)) seen.set(value, label);
}

/** `like` pattern → a value it matches (each wildcard as "x") and its text with `*`. */
function likeSample(pattern: unknown[]): PathCandidate {
  let value = '';
  let label = '';
  for (const part of pattern) {
    if (part === 'Wildcard') {
      value += 'x';
      label += '*';
    } else {
      const literal = String((part as { Literal?: unknown }).Literal ?? '');
      value += literal;
      label += literal === '*' ? '\\*' : literal;
    }
  }
  return { value, label: `like "${label}"` };
}

function walk(expr: unknown, acc: Acc): void {
  if (typeof expr !== 'object' || expr === null) return;
  if (Array.isArray(expr)) {
    for (const item of expr) walk(item, acc);
    return;
  }
  for (const [op, body] of Object.entries(expr as Record<string, unknown>)) {
    const node = (body ?? {}) as Record<string, unknown>;
    if (COMPARISONS.has(op)) {
      const left = contextField(node['left']);
      const right = contextField(node['right']);
      if (left) for (const s of stringsIn(node['right'])) add(acc, left, s);
      if (right) for (const s of stringsIn(node['left'])) add(acc, right, s);
    } else if (op === 'like' && Array.isArray(node['pattern'])) {
      const field = contextField(node['left']);
      if (field) {
        const sample = likeSample(node['pattern'] as unknown[]);
        add(acc, field, sample.value, sample.label);
      }
    } else if (op === 'datetime' && Array.isArray(body)) {
      for (const s of stringsIn(body[0])) acc.datetimes.add(s);
    }
    walk(body, acc);
  }
}

function jsonOf(policy: CompiledPolicy): PolicyJson | undefined {
  const cached = cachedPolicyJson(policy);
  if (cached) return cached;
  const answer = policyToJson(policy.text);
  return answer.type === 'success' ? answer.json : undefined;
}

/** The literals of the whole set, each list sorted for a stable report. */
export function contextCandidates(policies: CompiledPolicies): ContextCandidates {
  const acc: Acc = { literals: new Map(FIELDS.map((f) => [f, new Map()])), datetimes: new Set() };
  for (const policy of policies.policies) walk(jsonOf(policy)?.conditions ?? [], acc);
  const sorted = (field: Field) => [...acc.literals.get(field)!].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return {
    methods: sorted('method').map(([value]) => value),
    paths: sorted('path').map(([value, label]) => ({ value, label })),
    purposes: sorted('purpose').map(([value]) => value),
    datetimes: [...acc.datetimes].sort(),
  };
}
