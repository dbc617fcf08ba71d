import type { Clock } from '../clock.ts';
import type { Logger } from '../telemetry/logger.ts';
import type { Store } from '../store/types.ts';

/**
 * Periodic work that must happen once per interval across all replicas, not
 * once per replica: each job runs under store.runExclusive (a PostgreSQL
 * advisory lock), so when two replicas' timers fire together one does the
 * work and the other skips.
 */
export interface Job {
  readonly name: string;
  run(): Promise<void>;
}

const EXPIRY_WARNING_MS = 30 * 86_400_000;

/** Warns, once per CA per day, about a CA certificate that expires within 30 days. */
export function caExpiryJob(store: Store, clock: Clock): Job {
  return {
    name: 'ca-expiry-check',
    async run() {
      const now = clock.now();
      const day = now.toISOString().slice(0, 10);
      for (const authority of await store.listAuthorities()) {
        if (authority.status === 'retired') continue;
        const left = new Date(authority.notAfter).getTime() - now.getTime();
        if (left > EXPIRY_WARNING_MS) continue;
        const key = `warned:${authority.serial}`;
        if ((await store.getSetting(key)) === day) continue;
        await store.transaction(async (tx) => {
          await tx.putSetting(key, day);
          await tx.appendAudit({ type: 'ca.expiring', actor: 'control-plane', data: { serial: authority.serial, kind: authority.kind, cluster: authority.cluster, notAfter: authority.notAfter } }, now.toISOString());
        });
      }
    },
  };
}

export class JobRunner {
  readonly #store: Store;
  readonly #jobs: readonly Job[];
  readonly #log: Logger;
  readonly #replica: string;
  #timer: NodeJS.Timeout | undefined;

  constructor(store: Store, jobs: readonly Job[], log: Logger, replica: string) {
    this.#store = store;
    this.#jobs = jobs;
    this.#log = log;
    this.#replica = replica;
  }

  async runOnce(): Promise<string[]> {
    const ran: string[] = [];
    for (const job of this.#jobs) {
      try {
        const outcome = await this.#store.runExclusive(job.name, () => job.run());
        if (outcome.ran) ran.push(job.name);
      } catch (error) {
        this.#log.error({ job: job.name, replica: this.#replica, err: (error as Error).message }, 'job failed');
      }
    }
    return ran;
  }

  start(intervalMs: number): void {
    this.#timer = setInterval(() => void this.runOnce(), intervalMs);
    this.#timer.unref();
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
  }
}
