/**
 * The audit chain as a JSON-lines file: one record per line, appended by any
 * number of processes (a CLI issuing a certificate while the server runs).
 *
 * Each append takes `<path>.lock`, reads only the file's last line to learn
 * the previous record, and appends the next record with a single write. The
 * record and hash rules live in record.ts; this file only does the I/O.
 */
import { closeSync, fstatSync, mkdirSync, openSync, readSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { systemClock, type Clock } from '../clock.ts';
import { InterlockError } from '../errors.ts';
import { acquireLock, releaseLock } from './lock-file.ts';
import { nextRecord, recordSchemaProblem, type AuditEvent, type AuditRecord } from './record.ts';

/** Records are a few hundred bytes; one read usually finds the whole last line. */
const TAIL_CHUNK_BYTES = 4096;
const NEWLINE = 0x0a;
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

export class AuditLog {
  readonly path: string;
  readonly #clock: Clock;
  readonly #listeners: Array<(record: AuditRecord) => void> = [];
  readonly #singleWriter: boolean;
  #dirReady = false;
  /** Single-writer mode: the open file and the last record, kept between appends. */
  #fd: number | undefined;
  #last: AuditRecord | undefined;

  /**
   * `singleWriter`: this process is the only one that appends to the file
   * (a gateway and its own chain). The file stays open and the last record
   * is remembered, so an append is one write: no lock file, no reopening, no
   * reading back the tail (bench/audit: those were 85 % of an append). Leave
   * it off where several processes may append (the CLI's file CA).
   */
  constructor(path: string, clock: Clock = systemClock, options: { singleWriter?: boolean } = {}) {
    this.path = path;
    this.#clock = clock;
    this.#singleWriter = options.singleWriter === true;
  }

  /** Called with each record this process appends (the shipper counts its spool with it). */
  onAppend(listener: (record: AuditRecord) => void): void {
    this.#listeners.push(listener);
  }

  /** Appends one event as the next record of the chain and returns that record. */
  append(event: AuditEvent): AuditRecord {
    const record = this.#append(event);
    for (const listener of this.#listeners) listener(record);
    return record;
  }

  #append(event: AuditEvent): AuditRecord {
    try {
      if (!this.#dirReady) {
        mkdirSync(dirname(this.path), { recursive: true, mode: 0o700 });
        this.#dirReady = true;
      }
      if (this.#singleWriter) {
        if (this.#fd === undefined) {
          this.#fd = openSync(this.path, 'a+', 0o600);
          this.#last = readLastRecord(this.#fd, this.path);
        }
        const record = nextRecord(this.#last, event, this.#clock);
        writeAll(this.#fd, Buffer.from(`${JSON.stringify(record)}\n`, 'utf8'));
        this.#last = record;
        return record;
      }
      const lock = acquireLock(`${this.path}.lock`);
      try {
        const fd = openSync(this.path, 'a+', 0o600);
        try {
          const record = nextRecord(readLastRecord(fd, this.path), event, this.#clock);
          writeAll(fd, Buffer.from(`${JSON.stringify(record)}\n`, 'utf8'));
          return record;
        } finally {
          closeSync(fd);
        }
      } finally {
        releaseLock(lock);
      }
    } catch (err) {
      if (err instanceof InterlockError) throw err;
      throw new InterlockError('IL_ERR_AUDIT_LOG_UNREADABLE', `cannot append to audit log ${this.path}: ${describe(err)}`, {
        field: this.path,
        cause: err,
        hint: 'check that the directory is writable; remove a left-over .lock file only if no interlock process is running',
      });
    }
  }

  /** Closes the file kept open in single-writer mode. */
  close(): void {
    if (this.#fd !== undefined) closeSync(this.#fd);
    this.#fd = undefined;
  }
}

/**
 * The last record of the file, reading backwards from the end in growing
 * chunks until a whole line is in hand, so an append costs the same on a
 * ten-record log as on a ten-million-record one.
 */
function readLastRecord(fd: number, path: string): AuditRecord | undefined {
  const size = fstatSync(fd).size;
  if (size === 0) return undefined;
  let tail = Buffer.alloc(0);
  let start = size;
  let chunk = TAIL_CHUNK_BYTES;
  let line: Buffer | undefined;
  while (line === undefined) {
    const from = Math.max(0, start - chunk);
    const piece = Buffer.allocUnsafe(start - from);
    readExactly(fd, piece, from);
    tail = tail.length === 0 ? piece : Buffer.concat([piece, tail]);
    start = from;
    if (tail[tail.length - 1] !== NEWLINE) {
      // Appending now would glue the next record onto a half-written one.
      throw broken(path, 'its last line is incomplete (a write was torn or the file was truncated)');
    }
    const newline = tail.length >= 2 ? tail.lastIndexOf(NEWLINE, tail.length - 2) : -1;
    if (newline >= 0) line = tail.subarray(newline + 1, tail.length - 1);
    else if (start === 0) line = tail.subarray(0, tail.length - 1);
    chunk *= 2;
  }
  let value: unknown;
  try {
    value = JSON.parse(utf8.decode(line));
  } catch {
    throw broken(path, 'its last line is not valid JSON');
  }
  const problem = recordSchemaProblem(value);
  if (problem !== undefined) throw broken(path, `its last record ${problem}`);
  return value as AuditRecord;
}

function readExactly(fd: number, buffer: Buffer, position: number): void {
  let done = 0;
  while (done < buffer.length) {
    const n = readSync(fd, buffer, done, buffer.length - done, position + done);
    if (n === 0) throw new Error('file shrank while being read');
    done += n;
  }
}

// One write(2) per record with O_APPEND: even two writers that both believe
// they hold the lock cannot splice bytes into each other's lines, and a crash
// leaves at most one torn last line. The loop only runs if the kernel writes short.
function writeAll(fd: number, buffer: Buffer): void {
  let done = 0;
  while (done < buffer.length) done += writeSync(fd, buffer, done, buffer.length - done);
}

function broken(path: string, reason: string): InterlockError {
  return new InterlockError('IL_ERR_AUDIT_CHAIN_BROKEN', `cannot append to audit log ${path}: ${reason}`, {
    field: path,
    hint: 'run "interlock audit verify" on this file to find the damage',
  });
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
