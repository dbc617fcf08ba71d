import { InterlockError } from '../errors.ts';

/**
 * Refuses a one-time token (an identity assertion's `jti`) seen before,
 * for as long as the token itself would be accepted. Ids are kept in
 * buckets by the second their token expires, so expired ids are dropped a
 * whole bucket at a time and memory stays bounded by the rate of requests
 * times the validity window. At `capacity` ids the guard refuses new ones
 * (fail closed) rather than forget ids that are still valid.
 */
const BUCKET_MS = 1_000;

export class ReplayGuard {
  /** Every remembered id, for an O(1) lookup on the request path… */
  readonly #seen = new Set<string>();
  /** …and the same ids by expiry second, to forget them a bucket at a time. */
  readonly #buckets = new Map<number, Set<string>>();
  readonly #capacity: number;

  constructor(capacity = 1_000_000) {
    this.#capacity = capacity;
  }

  get size(): number {
    return this.#seen.size;
  }

  /** Records `id`, valid until `expiresAtMs`; throws IL_ERR_REPLAY_DETECTED if it was seen, IL_ERR_REPLAY_GUARD_FULL at capacity. */
  check(id: string, expiresAtMs: number, nowMs: number): void {
    this.#prune(nowMs);
    if (this.#seen.has(id)) throw new InterlockError('IL_ERR_REPLAY_DETECTED', `request token ${id} was already used`, { field: 'jti' });
    if (this.#seen.size >= this.#capacity) {
      throw new InterlockError('IL_ERR_REPLAY_GUARD_FULL', `the replay guard holds ${this.#seen.size} unexpired tokens; refusing more until some expire`, { field: 'jti' });
    }
    const bucket = Math.ceil(expiresAtMs / BUCKET_MS);
    let ids = this.#buckets.get(bucket);
    if (!ids) this.#buckets.set(bucket, (ids = new Set()));
    ids.add(id);
    this.#seen.add(id);
  }

  #prune(nowMs: number): void {
    for (const [bucket, ids] of this.#buckets) {
      if (bucket * BUCKET_MS >= nowMs) continue;
      for (const id of ids) this.#seen.delete(id);
      this.#buckets.delete(bucket);
    }
  }
}
