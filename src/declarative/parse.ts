/**
 * YAML files → typed documents, each remembering where it came from (file,
 * document index, line), so every problem names the file, the document and
 * the field. Pure: the caller reads the files. Every document is checked and
 * every problem collected, so one run shows them all; any problem rejects
 * the whole set (problemsError).
 */
import { LineCounter, isMap, isScalar, isSeq, parseAllDocuments, type Document, type Node } from 'yaml';
import type { z } from 'zod';
import { closest } from '../config/load.ts';
import { InterlockError } from '../errors.ts';
import { DOCUMENT_SCHEMA, NAME_SCHEMAS, SPEC_SCHEMAS, knownKeysAt } from './schema.ts';
import type { Kind } from './types.ts';

export interface SourceFile {
  /** As shown in messages (relative to where the user pointed). */
  readonly path: string;
  readonly text: string;
}

export type SpecOf<K extends Kind> = z.output<(typeof SPEC_SCHEMAS)[K]>;

/** Where a document is: `<file>#<index>` (1-based, counting every `---` document in the file) and its first line. */
export interface Location {
  readonly file: string;
  readonly index: number;
  readonly line: number;
}

export type SourceDocument = { readonly [K in Kind]: { readonly kind: K; readonly name: string; readonly spec: SpecOf<K>; readonly at: Location } }[Kind];

export interface Problem {
  readonly at: Location;
  /** Line of the field itself, when known. */
  readonly line: number;
  /** Dotted path inside the document, e.g. spec.spiffeId. */
  readonly field: string;
  readonly message: string;
  readonly hint?: string;
}

export function parseSources(files: readonly SourceFile[]): { documents: SourceDocument[]; problems: Problem[] } {
  const documents: SourceDocument[] = [];
  const problems: Problem[] = [];
  for (const file of files) {
    const lines = new LineCounter();
    const parsed = parseAllDocuments(file.text, { lineCounter: lines, uniqueKeys: true });
    // parseAllDocuments returns an empty stream as a non-array: nothing to read.
    const list = Array.isArray(parsed) ? parsed : [];
    list.forEach((doc, i) => {
      const at: Location = { file: file.path, index: i + 1, line: lines.linePos(doc.contents?.range?.[0] ?? 0).line };
      const syntax = doc.errors[0];
      if (syntax) {
        problems.push({ at, line: syntax.linePos?.[0].line ?? at.line, field: '(document)', message: `not valid YAML: ${syntax.message.split('\n')[0]}` });
        return;
      }
      const raw: unknown = doc.toJS();
      if (raw === null || raw === undefined) return; // an empty document, e.g. after a trailing ---
      const result = checkDocument(raw);
      if ('issue' in result) problems.push(toProblem(result.issue, result.schema, result.prefix, doc, lines, at));
      else documents.push({ ...result.document, at } as SourceDocument);
    });
  }
  return { documents, problems };
}

type Checked =
  | { document: { kind: Kind; name: string; spec: unknown } }
  | { issue: z.core.$ZodIssue; schema: z.ZodType; prefix: PropertyKey[] };

function checkDocument(raw: unknown): Checked {
  const envelope = DOCUMENT_SCHEMA.safeParse(raw);
  if (!envelope.success) return { issue: rootCause(envelope.error), schema: DOCUMENT_SCHEMA, prefix: [] };
  const { kind, metadata } = envelope.data;
  const name = NAME_SCHEMAS[kind].safeParse(metadata.name);
  if (!name.success) return { issue: rootCause(name.error), schema: NAME_SCHEMAS[kind], prefix: ['metadata', 'name'] };
  // A Cluster may leave spec out; every other kind says something in it.
  const specSchema: z.ZodType = SPEC_SCHEMAS[kind];
  const spec = specSchema.safeParse(envelope.data.spec ?? (kind === 'Cluster' ? {} : undefined));
  if (!spec.success) return { issue: rootCause(spec.error), schema: specSchema, prefix: ['spec'] };
  return { document: { kind, name: metadata.name, spec: spec.data } };
}

// A typo'd key usually also leaves a required key missing; the typo is the root cause.
function rootCause(error: z.ZodError): z.core.$ZodIssue {
  return error.issues.find((i) => i.code === 'unrecognized_keys') ?? error.issues[0]!;
}

function toProblem(issue: z.core.$ZodIssue, schema: z.ZodType, prefix: PropertyKey[], doc: Document, lines: LineCounter, at: Location): Problem {
  const path = [...prefix, ...issue.path];
  if (issue.code === 'unrecognized_keys') {
    const key = issue.keys[0]!;
    const known = knownKeysAt(schema, issue.path);
    const suggestion = closest(key, known);
    const hint = suggestion ? `did you mean ${JSON.stringify(suggestion)}?` : known.length ? `known keys here: ${known.join(', ')}` : undefined;
    return { at, line: lineOf(doc, [...path, key], lines), field: dotted([...path, key]), message: `unknown key ${JSON.stringify(key)}`, ...(hint ? { hint } : {}) };
  }
  const message = issue.code === 'invalid_type' && issue.input === undefined ? 'is required' : issue.message;
  return { at, line: lineOf(doc, path, lines), field: dotted(path) || '(document)', message };
}

function dotted(path: readonly PropertyKey[]): string {
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : `${i === 0 ? '' : '.'}${String(p)}`)).join('');
}

/** The line of the deepest node on `path` that exists (the key itself for a map entry). */
function lineOf(doc: Document, path: readonly PropertyKey[], lines: LineCounter): number {
  let node = doc.contents as Node | null;
  let offset = node?.range?.[0] ?? 0;
  for (const part of path) {
    if (isMap(node)) {
      const pair = node.items.find((p) => isScalar(p.key) && p.key.value === part);
      if (!pair) break;
      offset = (pair.key as Node).range?.[0] ?? offset;
      node = pair.value as Node | null;
    } else if (isSeq(node) && typeof part === 'number') {
      const item = node.items[part] as Node | undefined;
      if (!item) break;
      offset = item.range?.[0] ?? offset;
      node = item;
    } else break;
  }
  return lines.linePos(offset).line;
}

/** `<file>#<index>`: how a field names its document. */
export function where(at: Location): string {
  return `${at.file}#${at.index}`;
}

/** Every problem, as one coded error: the first in full, the others counted and shown in short. */
export function problemsError(problems: readonly Problem[]): InterlockError {
  const describe = (p: Problem) => `${p.at.file}:${p.line} (document ${p.at.index}): ${p.field}: ${p.message}`;
  const ordered = [...problems].sort((a, b) => (a.at.file === b.at.file ? a.at.index - b.at.index || a.line - b.line : a.at.file < b.at.file ? -1 : 1));
  const [first, ...rest] = ordered;
  const others = rest.length ? `; and ${rest.length} more: ${rest.slice(0, 3).map(describe).join('; ')}${rest.length > 3 ? '; …' : ''}` : '';
  return new InterlockError('IL_ERR_DECLARATIVE_INVALID', `${describe(first!)}${others}; nothing was applied`, {
    field: `${where(first!.at)} ${first!.field}`,
    ...(first!.hint ? { hint: first!.hint } : {}),
  });
}
