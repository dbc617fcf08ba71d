import type { Store, EventRow } from '../store/types.ts';

/**
 * Follows the store's event table and fans events out to this replica's
 * watch streams. Polling the table (rather than LISTEN/NOTIFY) works the
 * same on SQLite and PostgreSQL and survives a replica restart: a client
 * resumes from its Last-Event-ID on any replica.
 */
export class EventTail {
  readonly #store: Store;
  readonly #listeners = new Set<(event: EventRow) => void>();
  #last = 0;
  #timer: NodeJS.Timeout | undefined;
  #polling = false;
  #again = false;
  #unwatch: (() => Promise<void>) | undefined;

  constructor(store: Store) {
    this.#store = store;
  }

  /**
   * Polls every `intervalMs`; with PostgreSQL it also listens for the
   * notification each append sends, so an event committed by another
   * replica reaches this one's watch streams at once (the poll remains as
   * the fallback if the listening connection drops).
   */
  async start(intervalMs = 200): Promise<void> {
    this.#last = await this.#store.latestEventId();
    this.#timer = setInterval(() => void this.poll(), intervalMs);
    this.#timer.unref();
    this.#unwatch = await this.#store.watchEvents?.(() => void this.poll()).catch(() => undefined);
  }

  async poll(): Promise<void> {
    if (this.#polling) {
      // Something arrived while a poll runs: look once more when it ends.
      this.#again = true;
      return;
    }
    this.#polling = true;
    try {
      for (;;) {
        const batch = await this.#store.eventsSince(this.#last, 500);
        for (const event of batch) {
          this.#last = event.id;
          for (const listener of this.#listeners) listener(event);
        }
        if (batch.length < 500) break;
      }
    } catch {
      // The store being briefly unreachable must not kill the tail; the next poll retries.
    } finally {
      this.#polling = false;
    }
    if (this.#again) {
      this.#again = false;
      void this.poll();
    }
  }

  get lastId(): number {
    return this.#last;
  }

  subscribe(listener: (event: EventRow) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  async stop(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    this.#listeners.clear();
    await this.#unwatch?.();
  }
}
