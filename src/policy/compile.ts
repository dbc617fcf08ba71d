/**
 * Turns Cedar policy text into a validated, id-labelled policy set.
 *
 * Cedar names the policies of a text `policy0`, `policy1`, … in source order,
 * which is useless in an audit record once a file is edited. So a policy may
 * carry `@id("readable-name")` and every decision reports that name instead;
 * policies without one keep Cedar's own `policyN` name, so ids still match
 * what the Cedar CLI prints for the same file.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { policySetTextToParts, policyToJson } from '@cedar-policy/cedar-wasm/nodejs';
import type { DetailedError, PolicyJson } from '@cedar-policy/cedar-wasm/nodejs';
import { InterlockError } from '../errors.ts';

export interface CompiledPolicy {
  /** The `@id` annotation, or Cedar's `policyN` (N = position in the file). */
  readonly id: string;
  readonly effect: 'permit' | 'forbid';
  /** The policy exactly as written in the file, annotations included. */
  readonly text: string;
  /** 1-based position of the policy's first character in the file. */
  readonly line: number;
  readonly column: number;
}

export interface CompiledPolicies {
  /** File path or other label used in error messages. */
  readonly source: string;
  /** In source order; decisions list policy ids in this order. */
  readonly policies: readonly CompiledPolicy[];
  /** `sha256:<hex>` over ids and texts: names this exact policy set in audit records. */
  readonly digest: string;
  /** Whether any policy mentions `time`, so the PDP only pays for `context.time` when it is read. */
  readonly readsTime: boolean;
}

/**
 * The JSON form of each policy parsePolicies made, so the PDP's slicer need
 * not ask Cedar again (~0.2 ms a policy). A WeakMap rather than a field, so
 * CompiledPolicy stays plain data that can be built elsewhere.
 */
const policyJsonCache = new WeakMap<CompiledPolicy, PolicyJson>();

/** The policy's Cedar JSON form, if parsePolicies produced it. */
export function cachedPolicyJson(policy: CompiledPolicy): PolicyJson | undefined {
  return policyJsonCache.get(policy);
}

/**
 * Parses and validates Cedar policy text.
 * @throws InterlockError IL_ERR_POLICY_INVALID with `<source>:<line>:<col>: <message>`.
 */
export function parsePolicies(text: string, source: string): CompiledPolicies {
  // A BOM is invisible in editors; Cedar would reject it as an unexpected token at 1:1.
  const body = text.startsWith('\uFEFF') ? text.slice(1) : text;
  const parts = policySetTextToParts(body);
  if (parts.type === 'failure') throw cedarError(body, source, parts.errors);

  const template = parts.policy_templates[0];
  if (template !== undefined) {
    throw invalid(body, source, Math.max(0, body.indexOf(template)),
      'policy templates (with ?principal or ?resource slots) are not supported in a policy file; write the principal and resource out',
    );
  }

  const policies: CompiledPolicy[] = [];
  const firstUse = new Map<string, CompiledPolicy>();
  let cursor = 0;
  let readsTime = false;
  const position = positionTracker(body);
  for (const [index, policyText] of inSourceOrder(parts.policies).entries()) {
    // Parts are verbatim slices of the text, so searching forward from the
    // previous one finds each in turn; failing to do so means Cedar changed
    // how it orders parts and our policyN ids would be wrong.
    const at = body.indexOf(policyText, cursor);
    if (at < 0) {
      throw new InterlockError('IL_ERR_INTERNAL', `${source}: cannot place policy ${index} in the source; cedar-wasm changed its output order`, { field: source });
    }
    cursor = at + policyText.length;

    const json = policyToJson(policyText);
    if (json.type === 'failure') throw cedarError(body, source, json.errors, at);
    // Conservative: any quoted "time" in the policy's JSON (attribute access,
    // `has`, record key) counts. Over-reporting only costs microseconds.
    readsTime ||= JSON.stringify(json.json).includes('"time"');
    const annotations = json.json.annotations ?? {};
    let id = `policy${index}`;
    if ('id' in annotations) {
      const value = annotations['id'];
      if (typeof value !== 'string' || value.trim() === '' || /[\u0000-\u001f\u007f]/u.test(value)) {
        throw invalid(body, source, at, '@id needs a non-empty name without control characters, e.g. @id("east-frontend-reads-billing")');
      }
      id = value;
    }
    const { line, column } = position(at);
    const previous = firstUse.get(id);
    if (previous !== undefined) {
      throw invalid(body, source, at, `duplicate policy id "${id}" (first used at ${previous.line}:${previous.column})`);
    }
    const policy: CompiledPolicy = Object.freeze({ id, effect: json.json.effect, text: policyText, line, column });
    firstUse.set(id, policy);
    policyJsonCache.set(policy, json.json);
    policies.push(policy);
  }

  return Object.freeze({
    source,
    policies: Object.freeze(policies),
    digest: policySetDigest(policies),
    readsTime,
  });
}

/**
 * Reads and parses a `.cedar` file.
 * @throws InterlockError IL_ERR_CONFIG_NOT_FOUND if the file cannot be read, IL_ERR_POLICY_INVALID if it is not valid Cedar.
 */
export async function loadPolicyFile(path: string): Promise<CompiledPolicies> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code ?? (err instanceof Error ? err.message : String(err));
    throw new InterlockError('IL_ERR_CONFIG_NOT_FOUND', `cannot read policy file ${path} (${reason})`, {
      field: path,
      hint: 'check the path and that the file is readable by this process',
      cause: err,
    });
  }
  return parsePolicies(text, path);
}

/** Content address of a policy set; equal sets share one preparsed copy inside cedar-wasm. */
export function policySetDigest(policies: readonly Pick<CompiledPolicy, 'id' | 'text'>[]): string {
  const hash = createHash('sha256');
  hash.update(JSON.stringify(policies.map((p) => [p.id, p.text])));
  return `sha256:${hash.digest('hex')}`;
}

/**
 * policySetTextToParts returns policies sorted by Cedar's id as a string
 * (policy0, policy1, policy10, policy11, policy2, …), not in source order.
 * Undo that sort so index N is Cedar's `policyN`.
 */
function inSourceOrder(sorted: readonly string[]): string[] {
  const ids = sorted.map((_, i) => `policy${i}`);
  // Rust orders Strings by bytes; for these ASCII ids that is JS's default sort.
  ids.sort();
  const ordered = new Array<string>(sorted.length);
  ids.forEach((id, k) => {
    ordered[Number(id.slice('policy'.length))] = sorted[k] as string;
  });
  return ordered;
}

/** Builds the error for Cedar's first diagnostic; `base` is where the parsed text starts in `body`. */
function cedarError(body: string, source: string, errors: readonly DetailedError[], base = 0): InterlockError {
  const first = errors[0];
  const more = errors.length > 1 ? ` (and ${errors.length - 1} more)` : '';
  if (first === undefined) return new InterlockError('IL_ERR_POLICY_INVALID', `${source}: not valid Cedar`, { field: source });
  const located = first.sourceLocations?.[0];
  const label = located?.label ? `: ${located.label}` : '';
  const message = `${first.message}${label}${more}`;
  const hint = first.help ?? undefined;
  if (located === undefined) {
    return new InterlockError('IL_ERR_POLICY_INVALID', `${source}: ${message}`, { field: source, ...(hint ? { hint } : {}) });
  }
  const offset = base + charIndexOfByte(body.slice(base), located.start);
  return invalid(body, source, offset, message, hint);
}

function invalid(body: string, source: string, offset: number, message: string, hint?: string): InterlockError {
  const { line, column } = lineAndColumn(body, offset);
  return new InterlockError('IL_ERR_POLICY_INVALID', `${source}:${line}:${column}: ${message}`, {
    field: source,
    ...(hint ? { hint } : {}),
  });
}

/** Cedar reports UTF-8 byte offsets (it is Rust); JS strings index UTF-16 units. */
function charIndexOfByte(text: string, byteOffset: number): number {
  return Buffer.from(text, 'utf8').subarray(0, byteOffset).toString('utf8').length;
}

/**
 * lineAndColumn for increasing offsets, counting only the text since the
 * previous one: a bundle of 10,000 policies would otherwise cost seconds.
 */
function positionTracker(text: string): (offset: number) => { line: number; column: number } {
  let done = 0;
  let line = 1;
  let lineStart = 0;
  return (offset) => {
    if (offset < done) return lineAndColumn(text, offset);
    for (let i = text.indexOf('\n', done); i !== -1 && i < offset; i = text.indexOf('\n', i + 1)) {
      line++;
      lineStart = i + 1;
    }
    done = offset;
    return { line, column: [...text.slice(lineStart, offset)].length + 1 };
  };
}

/** 1-based line, and column counted in characters (code points) as editors show them. */
function lineAndColumn(text: string, offset: number): { line: number; column: number } {
  const before = text.slice(0, offset);
  const lines = before.split('\n');
  const last = lines[lines.length - 1] ?? '';
  return { line: lines.length, column: [...last].length + 1 };
}
