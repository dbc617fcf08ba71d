import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { InterlockError } from '../errors.ts';

/**
 * One way to load any configuration file: YAML (JSON is YAML too), checked
 * against its zod schema once, unknown keys rejected with a did-you-mean
 * hint, relative paths resolved against the file's folder, then frozen.
 */
export function loadConfigFile<S extends z.ZodType>(path: string, schema: S): z.infer<S> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new InterlockError('IL_ERR_CONFIG_NOT_FOUND', `cannot read config ${path}: ${(error as NodeJS.ErrnoException).code ?? 'error'}`, {
      field: '--config',
    });
  }
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (error) {
    throw new InterlockError('IL_ERR_CONFIG_INVALID', `${path} is not valid YAML: ${(error as Error).message.split('\n')[0]}`, {
      field: '--config',
    });
  }
  return parseConfig(raw, schema, path);
}

export function parseConfig<S extends z.ZodType>(raw: unknown, schema: S, source: string): z.infer<S> {
  const result = schema.safeParse(raw);
  if (!result.success) throw configError(result.error, schema, source);
  return deepFreeze(result.data);
}

function fieldPath(path: readonly PropertyKey[]): string {
  return path.map((part) => String(part)).join('.') || '(root)';
}

function configError(error: z.ZodError, schema: z.ZodType, source: string): InterlockError {
  // A typo'd key usually also leaves a required key missing; the typo is the root cause, so report it first.
  const issue = error.issues.find((i) => i.code === 'unrecognized_keys') ?? error.issues[0]!;
  if (issue.code === 'unrecognized_keys') {
    const key = issue.keys[0]!;
    const known = knownKeysAt(schema, issue.path);
    const suggestion = closest(key, known);
    const field = fieldPath([...issue.path, key]);
    return new InterlockError('IL_ERR_CONFIG_UNKNOWN_KEY', `${source}: unknown key ${JSON.stringify(key)}`, {
      field,
      ...(suggestion ? { hint: `did you mean ${JSON.stringify(suggestion)}?` } : known.length ? { hint: `known keys: ${known.join(', ')}` } : {}),
    });
  }
  return new InterlockError('IL_ERR_CONFIG_INVALID', `${source}: ${fieldPath(issue.path)}: ${issue.message}`, { field: fieldPath(issue.path) });
}

// zod reports which keys were unknown but not which were allowed, so the
// schema is walked along the issue's path to find the keys it knows there.
function knownKeysAt(schema: z.ZodType, path: readonly PropertyKey[]): string[] {
  let current: unknown = schema;
  for (const part of path) {
    current = unwrap(current);
    if (current instanceof z.ZodObject) current = (current.shape as Record<string, unknown>)[String(part)];
    else if (current instanceof z.ZodRecord) current = current.def.valueType;
    else return [];
  }
  current = unwrap(current);
  return current instanceof z.ZodObject ? Object.keys(current.shape) : [];
}

function unwrap(schema: unknown): unknown {
  let current = schema as { def?: { innerType?: unknown; in?: unknown } } | undefined;
  while (current?.def?.innerType || current?.def?.in) current = (current.def.innerType ?? current.def.in) as typeof current;
  return current;
}

export function closest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of candidates) {
    const distance = levenshtein(word.toLowerCase(), candidate.toLowerCase());
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return bestDistance <= Math.max(2, Math.floor(word.length / 3)) ? best : undefined;
}

function levenshtein(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length]!;
}

export function resolveFrom(configPath: string, file: string): string {
  return isAbsolute(file) ? file : resolve(dirname(configPath), file);
}

export function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}
