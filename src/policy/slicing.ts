/**
 * Policy slicing: a request is evaluated only against the policies whose
 * scope can match it.
 *
 * Cedar evaluates a policy as `principal-scope && action-scope &&
 * resource-scope && when… && !unless…`, left to right with short-circuit
 * `&&` (https://docs.cedarpolicy.com/policies/syntax-policy.html: a policy
 * applies when the request matches the scope *and* the conditions hold).
 * A policy whose `principal == E` or `resource == E` names another entity is
 * therefore neither satisfied nor evaluated — it cannot error either, which
 * test/policy/slicing.test.ts checks against cedar-wasm. Leaving it out
 * changes nothing in Cedar's answer: not the decision, not the determining
 * policies, not the errors.
 *
 * Policies are filed under the `==` entities of their scope; `in`, `is` and
 * unconstrained scopes go to a catch-all. The slice for a request is
 * catch-all ∪ by-principal ∪ by-resource ∪ by-both, in source order. Slices
 * are preparsed on first use, once, under a content digest. cedar-wasm's
 * preparsed cache lives as long as the process and cannot be emptied, so a
 * PDP builds at most `maxSlices` of them and evaluates any further request
 * against the whole set: slower, same answer.
 */
import { preparsePolicySet, policyToJson } from '@cedar-policy/cedar-wasm/nodejs';
import type { EntityUidJson, PolicyJson, PrincipalConstraint } from '@cedar-policy/cedar-wasm/nodejs';
import { InterlockError } from '../errors.ts';
import { cachedPolicyJson, policySetDigest } from './compile.ts';
import type { CompiledPolicies, CompiledPolicy } from './compile.ts';
import { CONTEXT_FIELDS, SERVICE_TYPE, WORKLOAD_TYPE } from './entities.ts';
import type { ContextField, RequestShape } from './entities.ts';
import { policyReadSet, readsContext, unionReadSets } from './read-set.ts';
import type { ReadSet } from './read-set.ts';

/** Shared with cedar-wasm's process-wide cache, so prefixed to avoid other users' names. */
const PREPARSED_PREFIX = 'interlock-policy:';

export interface Slice {
  /** The slice's policies, in source order. */
  readonly policies: readonly CompiledPolicy[];
  /** What the slice's policies can read, and so what to send Cedar and what to key the cache on. */
  readonly shape: Required<RequestShape>;
  /** Reads context.time (or the whole context) in a set whose requests carry time: decisions change with the clock. */
  readonly readsTime: boolean;
  /** The cedar-wasm preparsed id; preparses on first call. @throws InterlockError IL_ERR_POLICY_INVALID */
  preparedId(): string;
}

interface Entry {
  readonly policy: CompiledPolicy;
  readonly index: number;
  readonly reads: ReadSet;
}

export class PolicySlicer {
  /** The whole set: for requests past the slice limit, and when slicing is off (`maxSlices` 0). */
  readonly full: Slice;
  readonly #maxSlices: number;
  readonly #catchAll: Entry[] = [];
  readonly #byPrincipal = new Map<string, Entry[]>();
  readonly #byResource = new Map<string, Entry[]>();
  readonly #byBoth = new Map<string, Entry[]>();
  /** Principals and resources some `==` scope names; all others share their slices. */
  readonly #namedPrincipals = new Set<string>();
  readonly #namedResources = new Set<string>();
  /** `<principal key>\n<resource key>` → slice, at most `maxSlices` of them. */
  readonly #slices = new Map<string, Slice>();
  /** Digest → slice, so keys whose slices have equal contents share one preparsed set. */
  readonly #byDigest = new Map<string, Slice>();
  readonly #source: string;
  /** Whether requests carry context.time at all: as before slicing, only when some policy of the set mentions it. */
  readonly #withTime: boolean;

  /** @throws InterlockError IL_ERR_POLICY_INVALID if a policy does not parse or two share an id. */
  constructor(compiled: CompiledPolicies, maxSlices: number) {
    this.#maxSlices = maxSlices;
    this.#source = compiled.source;
    this.#withTime = compiled.readsTime;
    const entries: Entry[] = [];
    const seen = new Set<string>();
    compiled.policies.forEach((policy, index) => {
      // Cedar takes the set as an id → text record, where a duplicate would silently replace a policy.
      if (seen.has(policy.id)) {
        throw new InterlockError('IL_ERR_POLICY_INVALID', `${compiled.source}: duplicate policy id "${policy.id}"`, { field: compiled.source });
      }
      seen.add(policy.id);
      const json = policyJson(compiled.source, policy);
      const entry: Entry = { policy, index, reads: policyReadSet(json) };
      entries.push(entry);
      const principal = scopeEntity(json.principal);
      const resource = scopeEntity(json.resource);
      if (principal !== undefined) this.#namedPrincipals.add(principal);
      if (resource !== undefined) this.#namedResources.add(resource);
      if (principal !== undefined && resource !== undefined) push(this.#byBoth, `${principal}\n${resource}`, entry);
      else if (principal !== undefined) push(this.#byPrincipal, principal, entry);
      else if (resource !== undefined) push(this.#byResource, resource, entry);
      else this.#catchAll.push(entry);
    });
    this.full = makeSlice(compiled.source, entries, this.#withTime);
  }

  /** The slice for a request by `Interlock::Workload::"<principalId>"` to `Interlock::Service::"<serviceId>"`. */
  sliceFor(principalId: string, serviceId: string): Slice {
    if (this.#maxSlices === 0) return this.full;
    const p = entityKey(WORKLOAD_TYPE, principalId);
    const r = entityKey(SERVICE_TYPE, serviceId);
    const pk = this.#namedPrincipals.has(p) ? p : '';
    const rk = this.#namedResources.has(r) ? r : '';
    const key = `${pk}\n${rk}`;
    const known = this.#slices.get(key);
    if (known !== undefined) return known;
    if (this.#slices.size >= this.#maxSlices) return this.full;

    const parts = [this.#catchAll, this.#byPrincipal.get(pk), this.#byResource.get(rk), this.#byBoth.get(key)];
    const entries = parts.flatMap((part) => part ?? []).sort((a, b) => a.index - b.index);
    const digest = policySetDigest(entries.map((e) => e.policy));
    let slice = this.#byDigest.get(digest);
    if (slice === undefined) {
      slice = makeSlice(this.#source, entries, this.#withTime, digest);
      this.#byDigest.set(digest, slice);
    }
    this.#slices.set(key, slice);
    return slice;
  }

  /** How many slices this PDP has built (each is at most one preparsed set in cedar-wasm). */
  get sliceCount(): number {
    return this.#byDigest.size;
  }
}

function push(map: Map<string, Entry[]>, key: string, entry: Entry): void {
  const list = map.get(key);
  if (list === undefined) map.set(key, [entry]);
  else list.push(entry);
}

/** Entity uids as index keys; NUL cannot occur in a Cedar type name, so keys cannot collide. */
function entityKey(type: string, id: string): string {
  return `${type}\u0000${id}`;
}

/** The entity of a `principal == E` / `resource == E` scope, or undefined for `in`, `is` and unconstrained. */
function scopeEntity(constraint: PrincipalConstraint): string | undefined {
  if (constraint.op !== '==' || !('entity' in constraint)) return undefined;
  const uid: EntityUidJson = constraint.entity;
  const { type, id } = '__entity' in uid ? uid.__entity : uid;
  return entityKey(type, id);
}

function policyJson(source: string, policy: CompiledPolicy): PolicyJson {
  const cached = cachedPolicyJson(policy);
  if (cached !== undefined) return cached;
  const answer = policyToJson(policy.text);
  if (answer.type === 'failure') {
    const detail = answer.errors.map((e) => e.message).join('; ');
    throw new InterlockError('IL_ERR_POLICY_INVALID', `${source}: policy ${policy.id}: ${detail}`, {
      field: source,
      hint: 'build policy sets with parsePolicies or loadPolicyFile',
    });
  }
  return answer.json;
}

function makeSlice(source: string, entries: readonly Entry[], withTime: boolean, digest?: string): Slice {
  const policies = entries.map((e) => e.policy);
  const reads = unionReadSets(entries.map((e) => e.reads));
  const contextFields: ContextField[] = CONTEXT_FIELDS.filter((field) => readsContext(reads, field));
  let preparsed: string | undefined;
  return {
    policies,
    shape: { contextFields, principalEntity: reads.principalEntity, resourceEntity: reads.resourceEntity },
    // A slice that uses the whole context (`context == {…}`) sees time too,
    // but only if requests of this set carry it at all.
    readsTime: withTime && readsContext(reads, 'time'),
    preparedId(): string {
      if (preparsed !== undefined) return preparsed;
      // Cedar's cache is per thread and never evicts, so the key is the
      // content digest: identical slices (of this PDP, or of the next bundle
      // when only other policies changed) share one entry, and no slice can
      // pick up a different set stored under the same name.
      const id = PREPARSED_PREFIX + (digest ?? policySetDigest(policies));
      const answer = preparsePolicySet(id, { staticPolicies: Object.fromEntries(policies.map((p) => [p.id, p.text])) });
      if (answer.type === 'failure') {
        const detail = answer.errors.map((e) => e.message).join('; ');
        throw new InterlockError('IL_ERR_POLICY_INVALID', `${source}: ${detail}`, { field: source });
      }
      preparsed = id;
      return id;
    },
  };
}
