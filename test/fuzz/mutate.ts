/**
 * Structured mutations of valid inputs. Random bytes rarely get past a
 * parser's first check; a valid PEM, token or bundle with one byte flipped, a
 * slice cut out or a field replaced reaches the code behind it.
 */
import fc from 'fast-check';

type Edit =
  | { kind: 'flip'; at: number; bit: number }
  | { kind: 'set'; at: number; value: number }
  | { kind: 'delete'; at: number; length: number }
  | { kind: 'insert'; at: number; items: number[] }
  | { kind: 'truncate'; at: number }
  | { kind: 'repeat'; at: number; length: number };

const edit: fc.Arbitrary<Edit> = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), bit: fc.nat({ max: 7 }) }),
  fc.record({ kind: fc.constant('set' as const), at: fc.nat(), value: fc.nat({ max: 255 }) }),
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), length: fc.integer({ min: 1, max: 16 }) }),
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), items: fc.array(fc.nat({ max: 255 }), { minLength: 1, maxLength: 8 }) }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('repeat' as const), at: fc.nat(), length: fc.integer({ min: 1, max: 64 }) }),
);

function applyEdits<T>(items: readonly T[], edits: readonly Edit[], fromByte: (value: number) => T): T[] {
  let out = [...items];
  for (const e of edits) {
    const at = out.length === 0 ? 0 : e.at % (out.length + (e.kind === 'insert' ? 1 : 0));
    switch (e.kind) {
      case 'flip':
      case 'set':
        if (out.length > 0) out[at] = fromByte(e.kind === 'set' ? e.value : (toByte(out[at]) ^ (1 << e.bit)));
        break;
      case 'delete':
        out.splice(at, e.length);
        break;
      case 'insert':
        out.splice(at, 0, ...e.items.map(fromByte));
        break;
      case 'truncate':
        out = out.slice(0, at);
        break;
      case 'repeat':
        out.splice(at, 0, ...out.slice(at, at + e.length));
        break;
    }
  }
  return out;
}

function toByte(value: unknown): number {
  return typeof value === 'number' ? value : (value as string).charCodeAt(0) & 0xff;
}

/** 1–4 edits of `valid`'s bytes. */
export function mutatedBytes(valid: Uint8Array): fc.Arbitrary<Uint8Array<ArrayBuffer>> {
  return fc.array(edit, { minLength: 1, maxLength: 4 }).map((edits) => new Uint8Array(applyEdits([...valid], edits, (b) => b)));
}

/**
 * 1–4 edits of `valid`'s characters; inserted and replaced characters come
 * from `alphabet` (default: the characters of `valid` plus a few hostile
 * ones), so the result stays close to the format.
 */
export function mutatedText(valid: string, alphabet?: string): fc.Arbitrary<string> {
  const chars = [...new Set([...(alphabet ?? valid + '\u0000\n"\\/:.=-{}[],;@%\u00e9\u{1F600}')])];
  return fc.array(edit, { minLength: 1, maxLength: 4 }).map((edits) => applyEdits([...valid], edits, (b) => chars[b % chars.length]!).join(''));
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

type JsonEdit = { at: number; op: 'replace' | 'delete' | 'add' | 'retype'; key: string; value: Json };

function paths(value: Json, prefix: (string | number)[] = []): (string | number)[][] {
  const here = [prefix];
  if (Array.isArray(value)) return here.concat(value.flatMap((item, i) => paths(item, [...prefix, i])));
  if (value && typeof value === 'object') return here.concat(Object.entries(value).flatMap(([k, v]) => paths(v, [...prefix, k])));
  return here;
}

function retype(value: Json): Json {
  if (typeof value === 'string') return Number(value) || [value];
  if (typeof value === 'number') return String(value);
  if (Array.isArray(value)) return Object.fromEntries(value.map((v, i) => [String(i), v]));
  if (value && typeof value === 'object') return Object.values(value);
  return value === null ? {} : !value;
}

function applyJsonEdit(root: Json, e: JsonEdit): Json {
  const all = paths(root);
  const path = all[e.at % all.length]!;
  const copy = structuredClone(root);
  if (path.length === 0) return e.op === 'retype' ? retype(copy) : e.op === 'replace' ? e.value : copy;
  const parent = path.slice(0, -1).reduce<Json>((node, k) => (node as Record<string, Json>)[k as string]!, copy) as Record<string, Json> | Json[];
  const last = path[path.length - 1]!;
  const target = parent as Record<string | number, Json>;
  if (e.op === 'replace') target[last] = e.value;
  else if (e.op === 'retype') target[last] = retype(target[last]!);
  else if (e.op === 'delete') {
    if (Array.isArray(parent)) parent.splice(Number(last), 1);
    else delete target[last];
  } else {
    const node = target[last];
    if (Array.isArray(node)) node.push(e.value);
    else if (node && typeof node === 'object') node[e.key] = e.value;
    else target[last] = e.value;
  }
  return copy;
}

/**
 * 1–3 edits of a JSON value: a member or item replaced by arbitrary JSON,
 * deleted, turned into another type, or a member added, whose key is drawn
 * from `keys` (the real schema's keys, so the edit passes unknown-key checks)
 * or is random.
 */
export function mutatedJson(valid: unknown, keys: readonly string[] = []): fc.Arbitrary<unknown> {
  const key = keys.length ? fc.oneof(fc.constantFrom(...keys), fc.string({ maxLength: 12 })) : fc.string({ maxLength: 12 });
  const jsonEdit: fc.Arbitrary<JsonEdit> = fc.record({
    at: fc.nat(),
    op: fc.constantFrom('replace' as const, 'delete' as const, 'add' as const, 'retype' as const),
    key,
    value: fc.jsonValue({ maxDepth: 3 }) as fc.Arbitrary<Json>,
  });
  return fc.array(jsonEdit, { minLength: 1, maxLength: 3 }).map((edits) => edits.reduce(applyJsonEdit, valid as Json));
}

/** Arbitrary strings of every kind: printable, any code point, and lone-surrogate-free binary. */
export const anyString: fc.Arbitrary<string> = fc.oneof(
  fc.string({ maxLength: 200 }),
  fc.string({ unit: 'binary', maxLength: 200 }),
  fc.string({ unit: 'grapheme', maxLength: 60 }),
);

/** base64url of bytes, the alphabet of JWS segments. */
export function base64url(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('base64url');
}
