import { apiRequest } from '../client/api.ts';
import type { Clock } from '../clock.ts';
import type { ControlLink } from './control-link.ts';

/**
 * Security signals a gateway sees and the control plane's detectors act on
 * (server/detectors.ts):
 *
 *   foreign-svid   a workload SVID of another cluster presented here
 *                  (its home cluster is the other place it is in use)
 *   deny-burst     one identity denied by policy `threshold` times within `windowMs`
 *   unknown-ca     a certificate from a CA that is not in the trust bundle
 *
 * Signals are queued and sent in batches; the same signal is sent once per
 * DEDUPE_MS. Without a control plane (file-based gateway) they are dropped:
 * the audit log still has every refusal.
 */
export type Signal =
  | { readonly kind: 'foreign-svid'; readonly serial: string; readonly spiffeId: string }
  | { readonly kind: 'deny-burst'; readonly spiffeId: string; readonly serial: string | null; readonly count: number; readonly windowMs: number }
  | { readonly kind: 'unknown-ca'; readonly reason: string; readonly subject: string; readonly issuer: string; readonly spiffeId: string | null; readonly fingerprint: string; readonly listener: string };

type Timed = Signal & { readonly at: string };

const FLUSH_MS = 250;
const DEDUPE_MS = 10_000;
const MAX_QUEUED = 1_000;

function keyOf(signal: Signal): string {
  switch (signal.kind) {
    case 'foreign-svid':
      return `foreign-svid:${signal.serial}`;
    case 'deny-burst':
      return `deny-burst:${signal.spiffeId}`;
    case 'unknown-ca':
      return `unknown-ca:${signal.fingerprint}`;
  }
}

export class SignalReporter {
  readonly #queue: Timed[] = [];
  readonly #sentAt = new Map<string, number>();
  readonly #clock: Clock;
  #link: ControlLink | undefined;
  #timer: NodeJS.Timeout | undefined;
  #sending = false;

  constructor(clock: Clock) {
    this.#clock = clock;
  }

  attach(link: ControlLink): void {
    this.#link = link;
    this.#timer = setInterval(() => void this.flush(), FLUSH_MS);
    this.#timer.unref();
  }

  report(signal: Signal): void {
    if (!this.#link) return;
    const now = this.#clock.now().getTime();
    const key = keyOf(signal);
    if (now - (this.#sentAt.get(key) ?? -Infinity) < DEDUPE_MS) return;
    this.#sentAt.set(key, now);
    if (this.#sentAt.size > 10_000) this.#sentAt.clear();
    this.#queue.push({ ...signal, at: new Date(now).toISOString() });
    if (this.#queue.length > MAX_QUEUED) this.#queue.shift();
  }

  async flush(): Promise<void> {
    if (!this.#link || this.#sending || this.#queue.length === 0) return;
    this.#sending = true;
    const batch = this.#queue.splice(0, 100);
    try {
      await apiRequest(this.#link.connection(), 'POST', '/v1/signals', { signals: batch });
    } catch {
      this.#queue.unshift(...batch); // kept for the next flush; the control plane may be briefly away
      if (this.#queue.length > MAX_QUEUED) this.#queue.splice(0, this.#queue.length - MAX_QUEUED);
    } finally {
      this.#sending = false;
    }
  }

  close(): void {
    clearInterval(this.#timer);
  }
}

/** Counts policy denials per identity over a sliding window and reports a burst once it reaches the threshold. */
export class DenyBurstDetector {
  readonly #denials = new Map<string, number[]>();
  readonly #threshold: number;
  readonly #windowMs: number;
  readonly #clock: Clock;
  readonly #signals: SignalReporter;

  constructor(options: { threshold: number; windowMs: number; clock: Clock; signals: SignalReporter }) {
    this.#threshold = options.threshold;
    this.#windowMs = options.windowMs;
    this.#clock = options.clock;
    this.#signals = options.signals;
  }

  denied(spiffeId: string, serial: string | undefined): void {
    const now = this.#clock.now().getTime();
    const recent = (this.#denials.get(spiffeId) ?? []).filter((t) => now - t < this.#windowMs);
    recent.push(now);
    this.#denials.set(spiffeId, recent);
    if (this.#denials.size > 10_000) this.#denials.clear();
    if (recent.length >= this.#threshold) this.#signals.report({ kind: 'deny-burst', spiffeId, serial: serial ?? null, count: recent.length, windowMs: this.#windowMs });
  }
}
