/**
 * The I/O edge of the risk register: the last results of chaos experiments
 * and whether evidence files exist. Chaos results are JSON files
 * `<dir>/<experiment>.json` holding at least `{ "passed": true|false }` or
 * the chaos runner's `{ "status": "passed"|"failed"|"skipped" }` (what
 * `interlock chaos run --out` and the chaos tests write); a missing file or
 * a skipped experiment means "not run".
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { InterlockError } from '../errors.ts';
import type { ChaosResult } from './risk-register.ts';

const TIME_FIELDS = ['finishedAt', 'endedAt', 'at', 'time', 'startedAt'] as const;

function invalid(file: string, message: string): InterlockError {
  return new InterlockError('IL_ERR_REPORT_INPUT_INVALID', `${file}: ${message}`, { field: file, hint: 'a chaos result file is JSON with a boolean "passed"' });
}

/** Parses one chaos result file's text; undefined for an experiment that was skipped (not run). */
export function parseChaosResult(text: string, file: string): ChaosResult | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw invalid(file, `not JSON: ${(error as Error).message}`);
  }
  const doc = value as Record<string, unknown> | null;
  if (typeof doc !== 'object' || doc === null) throw invalid(file, 'not a JSON object');
  if (doc.status === 'skipped') return undefined;
  const passed = typeof doc.passed === 'boolean' ? doc.passed : doc.status === 'passed' ? true : doc.status === 'failed' ? false : undefined;
  if (passed === undefined) throw invalid(file, '"passed" must be true or false (or "status" passed or failed)');
  const time = TIME_FIELDS.map((f) => doc[f]).find((v): v is string => typeof v === 'string');
  const detail = [doc.detail, doc.summary, doc.reason, doc.error].find((v): v is string => typeof v === 'string') ?? null;
  return { passed, finishedAt: time ?? null, detail };
}

/** The results of the named experiments found in `dir`; none when `dir` is absent. */
export function readChaosResults(dir: string | null, names: Iterable<string>): Map<string, ChaosResult> {
  const results = new Map<string, ChaosResult>();
  if (dir === null || !existsSync(dir)) return results;
  if (!statSync(dir).isDirectory()) throw invalid(dir, 'is not a directory');
  for (const name of new Set(names)) {
    const file = join(dir, `${name}.json`);
    if (!existsSync(file)) continue;
    const result = parseChaosResult(readFileSync(file, 'utf8'), file);
    if (result) results.set(name, result);
  }
  return results;
}

/** Test files are named relative to the repository root. */
export function fileExistsUnder(root: string): (path: string) => boolean {
  const base = resolve(root);
  return (path) => {
    const full = resolve(base, path);
    // A path that climbs out of the repository is not evidence in it.
    return full.startsWith(base + '/') && existsSync(full) && statSync(full).isFile();
  };
}
