/**
 * Audit record schema v1 and the hash-chain rule, as pure functions.
 *
 * Nothing here touches a disk: the JSON-lines file (chain-file.ts) and, later,
 * the database store both build and check records with these functions, so the
 * two can never disagree on what a valid chain is.
 */
import { createHash } from 'node:crypto';
import type { Clock } from '../clock.ts';
import { InterlockError } from '../errors.ts';

/** Well-known event types; any other non-empty string is allowed too. */
export type AuditEventType = 'svid.issued' | 'ca.created' | 'cluster.added' | 'policy.decision' | (string & {});

export interface AuditRecord {
  /** Schema version; a reader rejects versions it does not know. */
  readonly v: 1;
  /** 1-based, consecutive: a gap or repeat means a record was removed or reordered. */
  readonly seq: number;
  /** ISO 8601 time the record was made. */
  readonly time: string;
  readonly type: AuditEventType;
  /** Who caused the event (a SPIFFE ID, an operator name), if known. */
  readonly actor?: string;
  readonly data: Record<string, unknown>;
  /** Hex SHA-256 of the previous record, or GENESIS_HASH for the first. */
  readonly prev: string;
  /** Hex SHA-256 of the canonical JSON of this record without `hash`. */
  readonly hash: string;
}

export interface AuditEvent {
  readonly type: AuditEventType;
  readonly actor?: string;
  readonly data: Record<string, unknown>;
}

/** The `prev` of record 1: there is no previous record to hash. */
export const GENESIS_HASH = '0'.repeat(64);

const HEX_SHA256 = /^[0-9a-f]{64}$/;
// The shape Date#toISOString writes, plus the offsets ISO 8601 / RFC 3339 allow.
const ISO_8601 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})$/;
const RECORD_KEYS = new Set(['v', 'seq', 'time', 'type', 'actor', 'data', 'prev', 'hash']);
/**
 * canonicalJson recurses once per level, so data nested a few thousand deep
 * (a few KB of brackets) would overflow the stack while hashing: such a
 * record is refused as malformed instead, by writer and reader alike.
 */
const MAX_DATA_DEPTH = 256;

/**
 * Canonical JSON in the manner of RFC 8785 (JCS): object members sorted by
 * key (UTF-16 code units, which is what Array#sort compares), no whitespace,
 * strings and numbers as JSON.stringify writes them (JCS §3.2.2 uses the same
 * ECMAScript number serialisation). Two records with the same content then
 * hash the same whatever order their keys were written in.
 *
 * Members whose value is undefined are skipped, as JSON.stringify does; any
 * other value JSON cannot carry (NaN, Infinity, bigint, functions) is refused,
 * because it would not survive a write and re-read, so the hash could never
 * be recomputed.
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value === 'boolean' || typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw notJson(`the number ${value}`);
    return JSON.stringify(value);
  }
  if (Array.isArray(value)) return `[${value.map((item) => canonicalJson(item)).join(',')}]`;
  if (typeof value === 'object' && isPlainObject(value)) {
    const members: string[] = [];
    for (const key of Object.keys(value).sort()) {
      const member = (value as Record<string, unknown>)[key];
      if (member === undefined) continue;
      members.push(`${JSON.stringify(key)}:${canonicalJson(member)}`);
    }
    return `{${members.join(',')}}`;
  }
  throw notJson(typeof value === 'object' ? 'a non-plain object' : `a ${typeof value}`);
}

/** `hash` of a record: SHA-256 over the canonical JSON of every other field. */
export function computeRecordHash(record: Omit<AuditRecord, 'hash'> | AuditRecord): string {
  const { hash: _ignored, ...rest } = record as AuditRecord;
  return createHash('sha256').update(canonicalJson(rest), 'utf8').digest('hex');
}

/** The record that follows `prev` (or starts the chain) for one event. */
export function nextRecord(prev: AuditRecord | undefined, event: AuditEvent, clock: Clock): AuditRecord {
  if (typeof event.type !== 'string' || event.type.length === 0) {
    throw new InterlockError('IL_ERR_INTERNAL', 'audit event type must be a non-empty string', { field: 'type' });
  }
  if (event.actor !== undefined && typeof event.actor !== 'string') {
    throw new InterlockError('IL_ERR_INTERNAL', 'audit event actor must be a string', { field: 'actor' });
  }
  const body = {
    v: 1 as const,
    seq: prev === undefined ? 1 : prev.seq + 1,
    time: clock.now().toISOString(),
    type: event.type,
    ...(event.actor === undefined ? {} : { actor: event.actor }),
    data: normalizeData(event.data),
    prev: prev === undefined ? GENESIS_HASH : prev.hash,
  };
  return { ...body, hash: computeRecordHash(body) };
}

/**
 * Why `value` is not a schema-v1 record, or undefined if it is one.
 * Unknown fields are refused: a field the hash covers but no reader shows
 * would be a place to hide data.
 */
export function recordSchemaProblem(value: unknown): string | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'is not a JSON object';
  const r = value as Record<string, unknown>;
  const unknown = Object.keys(r).filter((key) => !RECORD_KEYS.has(key));
  if (unknown.length > 0) return `has unknown field(s) ${unknown.join(', ')}`;
  if (r.v !== 1) return `has schema version ${JSON.stringify(r.v)}, expected 1`;
  if (typeof r.seq !== 'number' || !Number.isSafeInteger(r.seq) || r.seq < 1) return 'has no positive integer seq';
  if (typeof r.time !== 'string' || !ISO_8601.test(r.time) || Number.isNaN(Date.parse(r.time))) {
    return 'has no ISO 8601 time';
  }
  if (typeof r.type !== 'string' || r.type.length === 0) return 'has no type';
  if ('actor' in r && typeof r.actor !== 'string') return 'has an actor that is not a string';
  if (typeof r.data !== 'object' || r.data === null || Array.isArray(r.data)) return 'has data that is not an object';
  if (nestedDeeperThan(r.data, MAX_DATA_DEPTH)) return `has data nested deeper than ${MAX_DATA_DEPTH} levels`;
  if (typeof r.prev !== 'string' || !HEX_SHA256.test(r.prev)) return 'has no hex SHA-256 prev';
  if (typeof r.hash !== 'string' || !HEX_SHA256.test(r.hash)) return 'has no hex SHA-256 hash';
  return undefined;
}

/**
 * Why `record` cannot follow `prev` in a chain (prev undefined: it must be the
 * first record), or undefined if it can. Checks the record's own hash first,
 * so an edited record is reported as altered rather than as a broken link.
 */
export function chainLinkProblem(prev: AuditRecord | undefined, record: AuditRecord): string | undefined {
  if (computeRecordHash(record) !== record.hash) return 'hash does not match the record content (record altered)';
  const expectedSeq = prev === undefined ? 1 : prev.seq + 1;
  if (record.seq !== expectedSeq) {
    return `seq is ${record.seq}, expected ${expectedSeq} (record removed, inserted or reordered)`;
  }
  const expectedPrev = prev === undefined ? GENESIS_HASH : prev.hash;
  if (record.prev !== expectedPrev) {
    return 'prev does not equal the hash of the record before it (record removed, inserted or reordered)';
  }
  return undefined;
}

// Round-trip through JSON so the record we hash is exactly the record a
// reader parses back: Dates become strings, undefined members disappear.
function normalizeData(data: Record<string, unknown>): Record<string, unknown> {
  if (typeof data !== 'object' || data === null || Array.isArray(data)) {
    throw new InterlockError('IL_ERR_INTERNAL', 'audit event data must be a JSON object', { field: 'data' });
  }
  let text: string;
  try {
    text = JSON.stringify(data);
  } catch (cause) {
    throw new InterlockError('IL_ERR_INTERNAL', 'audit event data cannot be written as JSON', { field: 'data', cause });
  }
  const copy: unknown = JSON.parse(text);
  if (nestedDeeperThan(copy, MAX_DATA_DEPTH)) {
    throw new InterlockError('IL_ERR_INTERNAL', `audit event data is nested deeper than ${MAX_DATA_DEPTH} levels`, { field: 'data' });
  }
  // A toJSON() on the data object itself could turn it into something else.
  if (typeof copy !== 'object' || copy === null || Array.isArray(copy)) {
    throw new InterlockError('IL_ERR_INTERNAL', 'audit event data must be a JSON object', { field: 'data' });
  }
  return copy as Record<string, unknown>;
}

/** Whether `value` has arrays or objects nested more than `limit` deep; recurses at most `limit` + 1 levels. */
function nestedDeeperThan(value: unknown, limit: number): boolean {
  if (typeof value !== 'object' || value === null) return false;
  if (limit === 0) return true;
  for (const child of Array.isArray(value) ? value : Object.values(value)) if (nestedDeeperThan(child, limit - 1)) return true;
  return false;
}

function isPlainObject(value: object): boolean {
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

function notJson(what: string): InterlockError {
  return new InterlockError('IL_ERR_INTERNAL', `audit data contains ${what}, which JSON cannot carry`, { field: 'data' });
}
