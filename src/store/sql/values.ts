/**
 * Checks and encodings for values on their way into either database, so the
 * SQLite and PostgreSQL stores accept and refuse exactly the same inputs.
 */
import { InterlockError } from '../../errors.ts';

// RFC 3339 §5.6 date-time (the ISO 8601 profile Date#toISOString writes), with
// a four-digit year so stored times sort as text in SQLite.
const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})$/;
const CANONICAL = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

/**
 * A time as stored: always the 24-character UTC form Date#toISOString writes
 * ("2025-01-01T00:00:00.000Z"). One fixed-width form compares correctly as
 * text (SQLite) and round-trips exactly through timestamptz (PostgreSQL keeps
 * microseconds, we write milliseconds). A time with an offset is stored as
 * the same instant in UTC, so it reads back in that form.
 */
export function isoTime(value: string, field: string): string {
  if (typeof value === 'string' && RFC3339.test(value)) {
    const ms = Date.parse(value);
    if (!Number.isNaN(ms)) {
      const iso = new Date(ms).toISOString();
      if (CANONICAL.test(iso)) return iso;
    }
  }
  throw new InterlockError('IL_ERR_INTERNAL', `${field} must be an ISO 8601 time in years 0000-9999, got ${JSON.stringify(value)}`, { field });
}

export function isoTimeOrNull(value: string | null, field: string): string | null {
  return value === null ? null : isoTime(value, field);
}

/**
 * JSON text for a JSON column. PostgreSQL's JSONB refuses the escape \u0000
 * and unpaired surrogates (https://www.postgresql.org/docs/current/datatype-json.html),
 * so both stores refuse them here rather than only one failing at insert.
 */
export function jsonText(value: unknown, field: string): string {
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch (cause) {
    throw new InterlockError('IL_ERR_INTERNAL', `${field} cannot be written as JSON`, { field, cause });
  }
  if (text === undefined) throw new InterlockError('IL_ERR_INTERNAL', `${field} is not a JSON value`, { field });
  // JSON.stringify writes NUL as \u0000 and a lone surrogate as \udXXX;
  // paired surrogates stay literal, so any \ud800-\udfff escape is unpaired.
  if (/\\u0000|\\ud[89a-f][0-9a-f]{2}/i.test(unescapedBackslashesOnly(text))) {
    throw new InterlockError('IL_ERR_INTERNAL', `${field} contains U+0000 or an unpaired surrogate, which JSONB cannot store`, { field });
  }
  return text;
}

// Drops escaped backslashes ("\\\\") so a literal backslash followed by
// "u0000" in a string is not mistaken for the \u0000 escape.
function unescapedBackslashesOnly(text: string): string {
  return text.replace(/\\\\/g, '');
}

/** A `limit` argument: absent, or a positive safe integer. */
export function checkLimit(limit: number | undefined): number | undefined {
  if (limit === undefined) return undefined;
  if (!Number.isSafeInteger(limit) || limit < 1) {
    throw new InterlockError('IL_ERR_INTERNAL', `limit must be a positive integer, got ${String(limit)}`, { field: 'limit' });
  }
  return limit;
}

/** A cursor (afterId, afterSeq): a non-negative safe integer. */
export function checkCursor(value: number, field: string): number {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new InterlockError('IL_ERR_INTERNAL', `${field} must be a non-negative integer, got ${String(value)}`, { field });
  }
  return value;
}
