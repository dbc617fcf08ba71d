/**
 * What a Cedar policy can read from a request, derived from its JSON form
 * (Cedar JSON policy format, https://docs.cedarpolicy.com/policies/json-format.html).
 *
 * The decision cache keys on exactly this (decision-cache.ts), and the PDP
 * only builds the parts of a Cedar request a slice can read (entities.ts).
 * So the analysis must over-approximate: whatever it cannot follow counts
 * as reading everything. Reading too much only costs cache hits and
 * microseconds; reading too little would hand out a wrong decision.
 */
import type { PolicyJson, PrincipalConstraint } from '@cedar-policy/cedar-wasm/nodejs';

export interface ReadSet {
  /** Context attributes read by name, or `all` when the context is used as a value or in a way not analysed. */
  readonly context: ReadonlySet<string> | 'all';
  /** Whether evaluation may read the principal entity's attributes or ancestors (not just compare its uid). */
  readonly principalEntity: boolean;
  readonly resourceEntity: boolean;
}

export const READS_EVERYTHING: ReadSet = Object.freeze({ context: 'all', principalEntity: true, resourceEntity: true });

interface Acc {
  context: Set<string> | 'all';
  principalEntity: boolean;
  resourceEntity: boolean;
}

const BINARY = new Set([
  '==', '!=', '<', '<=', '>', '>=', '&&', '||', '+', '-', '*', 'contains', 'containsAll', 'containsAny',
]);
const UNARY = new Set(['!', 'neg', 'isEmpty']);

/** The read set of one policy: its scope and every when/unless body. */
export function policyReadSet(policy: PolicyJson): ReadSet {
  const acc: Acc = { context: new Set(), principalEntity: false, resourceEntity: false };
  // `principal in X` (and `is T in X`) walks the principal's ancestors; `==`
  // and plain `is` compare the uid only and never touch the entity.
  acc.principalEntity = scopeReadsEntity(policy.principal);
  acc.resourceEntity = scopeReadsEntity(policy.resource);
  try {
    for (const clause of policy.conditions ?? []) walk(clause.body, acc);
  } catch {
    return READS_EVERYTHING;
  }
  return acc;
}

/** The union of several read sets: what a slice of policies can read. */
export function unionReadSets(sets: Iterable<ReadSet>): ReadSet {
  const acc: Acc = { context: new Set(), principalEntity: false, resourceEntity: false };
  for (const set of sets) {
    if (set.context === 'all') acc.context = 'all';
    else if (acc.context !== 'all') for (const name of set.context) acc.context.add(name);
    acc.principalEntity ||= set.principalEntity;
    acc.resourceEntity ||= set.resourceEntity;
  }
  return acc;
}

/** Whether `context.<name>` is (or may be) read. */
export function readsContext(set: ReadSet, name: string): boolean {
  return set.context === 'all' || set.context.has(name);
}

function scopeReadsEntity(constraint: PrincipalConstraint): boolean {
  if (constraint.op === 'All' || constraint.op === '==') return 'slot' in constraint;
  if (constraint.op === 'is') return constraint.in !== undefined;
  return true;
}

class Unanalysable extends Error {}

function isVar(expr: unknown, name: string): boolean {
  return typeof expr === 'object' && expr !== null && (expr as { Var?: unknown }).Var === name;
}

function walk(expr: unknown, acc: Acc): void {
  if (typeof expr !== 'object' || expr === null || Array.isArray(expr)) throw new Unanalysable();
  const keys = Object.keys(expr);
  if (keys.length !== 1) throw new Unanalysable();
  const op = keys[0] as string;
  const raw: unknown = (expr as Record<string, unknown>)[op];
  const body = (typeof raw === 'object' && raw !== null ? raw : {}) as Record<string, unknown>;
  switch (op) {
    case 'Value':
      // A literal, possibly an entity uid; naming an entity reads nothing.
      return;
    case 'Var':
      // The context used as a value (`context == {…}`, `{a: context}`):
      // every attribute can reach the result. A bare principal or resource
      // is a uid, compared without reading the entity.
      if (raw === 'context') acc.context = 'all';
      else if (raw !== 'principal' && raw !== 'resource' && raw !== 'action') throw new Unanalysable();
      return;
    case 'Slot':
      throw new Unanalysable();
    case '.':
    case 'has':
      return attributeAccess(body, acc);
    case 'in':
    case 'getTag':
    case 'hasTag':
      // Ancestors and tags live on entities; any entity may be the operand.
      acc.principalEntity = true;
      acc.resourceEntity = true;
      walk(body['left'], acc);
      walk(body['right'], acc);
      return;
    case 'is':
      walk(body['left'], acc);
      if (body['in'] !== undefined) {
        acc.principalEntity = true;
        acc.resourceEntity = true;
        walk(body['in'], acc);
      }
      return;
    case 'like':
      walk(body['left'], acc);
      return;
    case 'if-then-else':
      walk(body['if'], acc);
      walk(body['then'], acc);
      walk(body['else'], acc);
      return;
    case 'Set':
      if (!Array.isArray(raw)) throw new Unanalysable();
      for (const item of raw as unknown[]) walk(item, acc);
      return;
    case 'Record':
      for (const value of Object.values(body)) walk(value, acc);
      return;
    default:
      if (BINARY.has(op)) {
        walk(body['left'], acc);
        walk(body['right'], acc);
      } else if (UNARY.has(op)) {
        walk(body['arg'], acc);
      } else if (Array.isArray(raw)) {
        // Anything else is an extension function or method call:
        // `datetime("…")`, `context.time.toTime()` → `{ "toTime": [ … ] }`.
        for (const arg of raw as unknown[]) walk(arg, acc);
      } else {
        throw new Unanalysable();
      }
  }
}

/** `x.attr` or `x has attr` (attr may be a path: `context has a.b` reads `context.a`). */
function attributeAccess(body: Record<string, unknown>, acc: Acc): void {
  const left = body['left'];
  const attr = Array.isArray(body['attr']) ? (body['attr'] as unknown[])[0] : body['attr'];
  if (typeof attr !== 'string') throw new Unanalysable();
  if (isVar(left, 'context')) {
    if (acc.context !== 'all') acc.context.add(attr);
  } else if (isVar(left, 'principal')) {
    acc.principalEntity = true;
  } else if (isVar(left, 'resource')) {
    acc.resourceEntity = true;
  } else if (isVar(left, 'action')) {
    // The action entity is never in the request's entities, so this is the
    // same evaluation error whatever the request: nothing request-dependent is read.
  } else {
    // The left side may evaluate to any entity (`Interlock::Service::"x".name`,
    // `(if … then principal else resource).cluster`): assume it reads both.
    acc.principalEntity = true;
    acc.resourceEntity = true;
    walk(left, acc);
  }
}
