import type { Clock } from '../clock.ts';

/**
 * One breaker per peer gateway (the classic closed → open → half-open
 * machine): after `failureThreshold` consecutive connection failures the
 * peer is not tried for `cooldownMs`, so callers get an immediate, clear
 * IL_ERR_PEER_CIRCUIT_OPEN instead of each waiting out a timeout; then one
 * request probes it, and its outcome closes or reopens the breaker.
 * There is never a fallback to another path, and never to plaintext.
 */
export type BreakerState = 'closed' | 'open' | 'half-open';

export class CircuitBreaker {
  readonly #threshold: number;
  readonly #cooldownMs: number;
  readonly #clock: Clock;
  #failures = 0;
  #openedAt: number | undefined;
  #probing = false;

  constructor(options: { failureThreshold: number; cooldownMs: number }, clock: Clock) {
    this.#threshold = options.failureThreshold;
    this.#cooldownMs = options.cooldownMs;
    this.#clock = clock;
  }

  get state(): BreakerState {
    if (this.#openedAt === undefined) return 'closed';
    return this.#clock.now().getTime() - this.#openedAt >= this.#cooldownMs ? 'half-open' : 'open';
  }

  /** Milliseconds until the next probe is allowed (0 when closed or half-open). */
  get retryInMs(): number {
    return this.#openedAt === undefined ? 0 : Math.max(0, this.#openedAt + this.#cooldownMs - this.#clock.now().getTime());
  }

  /** Whether a request may go to the peer now. In half-open, only one probe at a time. */
  allow(): boolean {
    const state = this.state;
    if (state === 'closed') return true;
    if (state === 'open' || this.#probing) return false;
    this.#probing = true;
    return true;
  }

  success(): void {
    this.#failures = 0;
    this.#openedAt = undefined;
    this.#probing = false;
  }

  failure(): void {
    this.#probing = false;
    this.#failures++;
    if (this.#openedAt !== undefined || this.#failures >= this.#threshold) this.#openedAt = this.#clock.now().getTime();
  }
}
