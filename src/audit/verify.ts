/**
 * `interlock audit verify`: walk a JSON-lines audit chain from the first line
 * and report the first record that was altered, removed, inserted or
 * reordered.
 *
 * What the chain alone cannot show: records cut off the END of the file. A
 * truncated chain is still a valid chain, just a shorter one, and nothing in
 * it records how long it used to be. Signed checkpoints (a later issue) close
 * that gap by committing to a seq and head hash outside the file.
 */
import { closeSync, openSync, readdirSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { InterlockError } from '../errors.ts';
import { chainLinkProblem, GENESIS_HASH, recordSchemaProblem, type AuditRecord } from './record.ts';

/** Audit chain files are named `<anything>.audit.jsonl`. */
export const AUDIT_LOG_SUFFIX = '.audit.jsonl';

export interface AuditVerificationSuccess {
  readonly ok: true;
  readonly path: string;
  /** Number of records in the chain. */
  readonly count: number;
  /** Hash of the last record (GENESIS_HASH for an empty log): compare it with a checkpoint. */
  readonly head: string;
}

export interface AuditVerificationFailure {
  readonly ok: false;
  readonly path: string;
  /** Records that verified before the first bad one. */
  readonly count: number;
  /** seq of the first bad record, or its line number if it has no usable seq. */
  readonly badSeq: number;
  /** 1-based line number of the first bad record. */
  readonly line: number;
  readonly reason: string;
}

export type AuditVerification = AuditVerificationSuccess | AuditVerificationFailure;

const READ_CHUNK_BYTES = 64 * 1024;
const NEWLINE = 0x0a;
// fatal: an invalid byte must fail the line, not be replaced and hashed.
// ignoreBOM: a BOM is a change to the file, so keep it and let JSON.parse refuse it.
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Verifies the whole chain in `path`, reading it in chunks so memory stays flat. */
export function verifyAuditLog(path: string): AuditVerification {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (err) {
    throw unreadable(path, err);
  }
  try {
    let prev: AuditRecord | undefined;
    let count = 0;
    let line = 0;
    for (const { bytes, terminated } of readLines(fd)) {
      line += 1;
      const fail = (reason: string, badSeq: number = line): AuditVerificationFailure => ({
        ok: false, path, count, badSeq, line, reason,
      });
      let text: string;
      let value: unknown;
      try {
        text = utf8.decode(bytes);
        value = JSON.parse(text);
      } catch {
        return fail(bytes.length === 0 ? 'empty line' : 'line is not valid JSON');
      }
      const seq = usableSeq(value) ?? line;
      const schema = recordSchemaProblem(value);
      if (schema !== undefined) return fail(`record ${schema}`, seq);
      const record = value as AuditRecord;
      const link = chainLinkProblem(prev, record);
      if (link !== undefined) return fail(link, seq);
      // Duplicate keys or reformatting leave the parsed record, and so its hash,
      // unchanged while changing what grep and people reading the file see.
      if (JSON.stringify(value) !== text) {
        return fail('line is not byte-for-byte as Interlock writes it (duplicate keys or edited formatting)', seq);
      }
      if (!terminated) return fail('last line has no newline (a write was torn or the file was truncated)', seq);
      prev = record;
      count += 1;
    }
    return { ok: true, path, count, head: prev?.hash ?? GENESIS_HASH };
  } catch (err) {
    throw unreadable(path, err);
  } finally {
    closeSync(fd);
  }
}

/** The error to raise (or print) for a failed verification. */
export function auditChainBrokenError(v: AuditVerificationFailure): InterlockError {
  return new InterlockError('IL_ERR_AUDIT_CHAIN_BROKEN', `record ${v.badSeq} (line ${v.line}) of ${v.path}: ${v.reason}`, {
    field: v.path,
    hint: `the first ${v.count} record(s) are intact; everything from line ${v.line} on cannot be trusted`,
  });
}

/** Every `*.audit.jsonl` regular file under `dir`, recursively, sorted. Symlinks are not followed. */
export function findAuditLogs(dir: string): string[] {
  const found: string[] = [];
  const walk = (current: string): void => {
    for (const entry of readdirSync(current, { withFileTypes: true })) {
      const full = join(current, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.isFile() && entry.name.endsWith(AUDIT_LOG_SUFFIX)) found.push(full);
    }
  };
  try {
    walk(dir);
  } catch (err) {
    throw unreadable(dir, err);
  }
  return found.sort();
}

/**
 * Lines of the file without their newline; `terminated` is false only for a
 * last line with no newline after it. A yielded buffer may be a view of the
 * read buffer and is valid only until the next iteration.
 */
function* readLines(fd: number): Generator<{ bytes: Buffer; terminated: boolean }> {
  const chunk = Buffer.allocUnsafe(READ_CHUNK_BYTES);
  let carry: Buffer[] = [];
  let position = 0;
  for (;;) {
    const n = readSync(fd, chunk, 0, chunk.length, position);
    if (n === 0) break;
    position += n;
    const view = chunk.subarray(0, n);
    let start = 0;
    for (let newline = view.indexOf(NEWLINE); newline !== -1; newline = view.indexOf(NEWLINE, start)) {
      const piece = view.subarray(start, newline);
      yield { bytes: carry.length === 0 ? piece : Buffer.concat([...carry, piece]), terminated: true };
      carry = [];
      start = newline + 1;
    }
    if (start < n) carry.push(Buffer.from(view.subarray(start)));
  }
  if (carry.length > 0) yield { bytes: Buffer.concat(carry), terminated: false };
}

function usableSeq(value: unknown): number | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const seq = (value as { seq?: unknown }).seq;
  return typeof seq === 'number' && Number.isSafeInteger(seq) && seq > 0 ? seq : undefined;
}

function unreadable(path: string, err: unknown): InterlockError {
  if (err instanceof InterlockError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new InterlockError('IL_ERR_AUDIT_LOG_UNREADABLE', `cannot read audit log ${path}: ${message}`, { field: path, cause: err });
}
