/**
 * Canonical JSON (object keys sorted, no whitespace; the key order of RFC
 * 8785, which is all a document made of strings, booleans, integers and
 * arrays needs) and its SHA-256, so a state has one digest however its keys
 * were ordered on the way (YAML, JSON, PostgreSQL JSONB).
 */
import { createHash } from 'node:crypto';

export function canonicalJson(value: unknown): string {
  return JSON.stringify(sorted(value));
}

function sorted(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sorted);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.keys(value).sort().filter((k) => (value as Record<string, unknown>)[k] !== undefined).map((k) => [k, sorted((value as Record<string, unknown>)[k])]));
  }
  return value;
}

export function digestOf(value: unknown): string {
  return `sha256:${createHash('sha256').update(canonicalJson(value), 'utf8').digest('hex')}`;
}

/** Whether two JSON values are the same document. */
export function sameJson(a: unknown, b: unknown): boolean {
  return canonicalJson(a) === canonicalJson(b);
}
