/**
 * A bounded LRU of policy decisions. It belongs to one PolicyDecisionPoint,
 * and so to one policy bundle: a new bundle is a new PDP with an empty
 * cache, which is the whole of invalidation.
 *
 * The key is everything Cedar can see of the request that the policies of
 * its slice can read (read-set.ts): the principal and resource in full
 * (uid and every attribute) and the context attributes the slice reads. Two
 * requests with equal keys give Cedar inputs that differ only in what no
 * policy of the slice reads, so Cedar answers them identically — error
 * messages included, since those name only the attribute, the entity uid
 * and value types. The PDP never caches slices that read `context.time`,
 * or failures that are not Cedar's answer (malformed requests, exceptions).
 */
import type { PolicyDecision, PolicyRequest } from './pdp.ts';
import type { ContextField } from './entities.ts';

export const DEFAULT_CACHE_SIZE = 10_000;

export interface CacheStats {
  /** Decisions answered from the cache. */
  readonly hits: number;
  /** Decisions Cedar had to evaluate (including those that may not be cached). */
  readonly misses: number;
  /** Decisions held now. */
  readonly size: number;
}

export class DecisionCache {
  readonly capacity: number;
  /** A Map iterates in insertion order; re-inserting on every hit keeps the least recently used first. */
  readonly #entries = new Map<string, PolicyDecision>();
  #hits = 0;
  #misses = 0;

  constructor(capacity: number = DEFAULT_CACHE_SIZE) {
    if (!Number.isSafeInteger(capacity) || capacity < 0) throw new RangeError(`cache size must be a whole number ≥ 0, got ${capacity}`);
    this.capacity = capacity;
  }

  /** The cached decision, marked most recently used, or undefined (not counted: the caller counts a miss when it evaluates). */
  get(key: string): PolicyDecision | undefined {
    const found = this.#entries.get(key);
    if (found === undefined) return undefined;
    this.#entries.delete(key);
    this.#entries.set(key, found);
    this.#hits++;
    return found;
  }

  set(key: string, decision: PolicyDecision): void {
    if (this.capacity === 0) return;
    this.#entries.delete(key);
    this.#entries.set(key, decision);
    if (this.#entries.size > this.capacity) {
      const oldest = this.#entries.keys().next();
      if (oldest.done !== true) this.#entries.delete(oldest.value);
    }
  }

  countMiss(): void {
    this.#misses++;
  }

  stats(): CacheStats {
    return { hits: this.#hits, misses: this.#misses, size: this.#entries.size };
  }
}

/**
 * The cache key of a request for a slice that reads `contextFields`.
 * The principal and resource uids decide the slice, so equal keys always
 * mean the same slice and the same list of fields. JSON keeps absent
 * (`null`) apart from every string, and strings apart from each other.
 */
export function decisionKey(req: PolicyRequest, contextFields: readonly ContextField[]): string {
  const { principal: p, resource: r, context: c } = req;
  const parts: Array<string | undefined> = [
    p.id, p.trustDomain, p.cluster, p.namespace, p.serviceAccount,
    r.cluster, r.service, r.classification,
  ];
  for (const field of contextFields) parts.push(c[field]);
  return JSON.stringify(parts);
}
