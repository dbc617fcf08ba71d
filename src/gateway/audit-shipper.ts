import { closeSync, existsSync, fstatSync, openSync, readSync } from 'node:fs';
import { apiRequest } from '../client/api.ts';
import { toInterlockError } from '../errors.ts';
import type { AuditRecord } from '../audit/record.ts';
import type { Logger } from '../telemetry/logger.ts';
import type { ControlLink } from './control-link.ts';

/**
 * Ships the gateway's audit chain to the control plane. The local chain
 * file is the durable spool: records are appended there first (on the
 * request path, whatever the control plane's state) and sent from it in
 * order, in batches, from the head the control plane acknowledged. The
 * control plane keys records by (stream, seq) and checks each links to the
 * last, so a batch resent after a lost answer is stored once and nothing is
 * skipped: while it is unreachable the spool grows, and when it comes back
 * the shipper catches up from where it was acknowledged.
 */
const NEWLINE = 0x0a;
const READ_CHUNK = 1 << 20;

export class AuditShipper {
  readonly #path: string;
  readonly #stream: string;
  readonly #link: ControlLink;
  readonly #log: Logger;
  readonly #batch: number;
  /** Highest seq the control plane acknowledged, and the byte offset just after it in the file. */
  #acked = 0;
  #offset = 0;
  #ready = false;
  #localHead = 0;
  #busy = false;
  #stopped = false;
  #broken = false;
  #timer: NodeJS.Timeout | undefined;

  constructor(options: { path: string; stream: string; link: ControlLink; log: Logger; batch?: number }) {
    this.#path = options.path;
    this.#stream = options.stream;
    this.#link = options.link;
    this.#log = options.log;
    this.#batch = options.batch ?? 500;
  }

  /** Records appended locally and not yet acknowledged by the control plane. */
  get spoolDepth(): number {
    return Math.max(0, this.#localHead - this.#acked);
  }

  get acknowledged(): number {
    return this.#acked;
  }

  /** Called after each local append, so the depth is known without reading the file. */
  appended(record: AuditRecord): void {
    this.#localHead = Math.max(this.#localHead, record.seq);
  }

  start(intervalMs = 500): void {
    this.#timer = setInterval(() => void this.tick(), intervalMs);
    this.#timer.unref();
    void this.tick();
  }

  stop(): void {
    this.#stopped = true;
    clearInterval(this.#timer);
  }

  /** One round: learn the acknowledged head if needed, then send what follows it, batch after batch. */
  async tick(): Promise<void> {
    if (this.#busy || this.#stopped || this.#broken) return;
    this.#busy = true;
    try {
      if (!this.#ready) await this.#resume();
      for (;;) {
        const { records, bytes } = this.#readAfterOffset();
        if (records.length === 0) break;
        const { body } = await apiRequest<{ head: number }>(this.#link.connection(), 'POST', `/v1/audit/streams/${encodeURIComponent(this.#stream)}/records`, { records });
        // Advance over exactly the records the control plane now holds.
        const accepted = Math.max(0, Math.min(records.length, body.head - this.#acked));
        this.#offset += bytes.slice(0, accepted).reduce((sum, n) => sum + n, 0);
        this.#acked += accepted;
        if (accepted < records.length) break;
      }
    } catch (error) {
      const failure = toInterlockError(error);
      if (failure.code === 'IL_ERR_AUDIT_BATCH_REFUSED') {
        // The control plane holds a different history for this stream: do not paper over it.
        this.#broken = true;
        this.#log.error({ event: 'gateway.audit-shipping-stopped', code: failure.code, err: failure.message, stream: this.#stream }, 'the control plane refused this chain; shipping stopped');
      } else {
        this.#log.warn({ event: 'gateway.audit-shipping-failed', code: failure.code, err: failure.message, spoolDepth: this.spoolDepth }, 'audit records kept in the local spool; retrying');
      }
    } finally {
      this.#busy = false;
    }
  }

  /** The control plane's head for this stream, and where it is in the local file (record n is line n). */
  async #resume(): Promise<void> {
    const { body } = await apiRequest<{ seq: number }>(this.#link.connection(), 'GET', `/v1/audit/streams/${encodeURIComponent(this.#stream)}/head`);
    let lines = 0;
    let offset = 0;
    this.#scan((lineEnd) => {
      lines++;
      if (lines === body.seq) offset = lineEnd;
      return true;
    });
    this.#localHead = Math.max(this.#localHead, lines);
    this.#acked = Math.min(body.seq, lines);
    this.#offset = this.#acked === 0 ? 0 : offset;
    this.#ready = true;
  }

  /** Calls `onLine(endOffset)` for each complete line from `from`; stops when it returns false. */
  #scan(onLine: (lineEnd: number, line: Buffer) => boolean, from = 0): void {
    if (!existsSync(this.#path)) return;
    const fd = openSync(this.#path, 'r');
    try {
      const size = fstatSync(fd).size;
      let position = from;
      let carry = Buffer.alloc(0);
      while (position < size) {
        const chunk = Buffer.allocUnsafe(Math.min(READ_CHUNK, size - position));
        const read = readSync(fd, chunk, 0, chunk.length, position);
        const data = carry.length ? Buffer.concat([carry, chunk.subarray(0, read)]) : chunk.subarray(0, read);
        const dataStart = position - carry.length;
        let lineStart = 0;
        for (let i = data.indexOf(NEWLINE); i !== -1; i = data.indexOf(NEWLINE, lineStart)) {
          if (!onLine(dataStart + i + 1, data.subarray(lineStart, i))) return;
          lineStart = i + 1;
        }
        carry = Buffer.from(data.subarray(lineStart));
        position += read;
      }
    } finally {
      closeSync(fd);
    }
  }

  /** Up to one batch of complete records after the acknowledged offset, with each one's size in bytes. */
  #readAfterOffset(): { records: AuditRecord[]; bytes: number[] } {
    const records: AuditRecord[] = [];
    const bytes: number[] = [];
    let lastEnd = this.#offset;
    this.#scan((lineEnd, line) => {
      records.push(JSON.parse(line.toString('utf8')) as AuditRecord);
      bytes.push(lineEnd - lastEnd);
      lastEnd = lineEnd;
      return records.length < this.#batch;
    }, this.#offset);
    const last = records.at(-1);
    if (last) this.#localHead = Math.max(this.#localHead, last.seq);
    return { records, bytes };
  }
}
