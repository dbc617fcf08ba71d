/**
 * The I/O edge of declarative configuration: reads a directory of YAML files
 * (or one file) and the Cedar files they name, then hands the text to the
 * pure parse and normalise steps. Any problem rejects the whole set.
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { InterlockError } from '../errors.ts';
import { normalise, type Normalised } from './normalise.ts';
import { parseSources, problemsError, type SourceFile } from './parse.ts';

const YAML_FILE = /\.ya?ml$/;

function readText(path: string, what: string, field: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    throw new InterlockError('IL_ERR_CONFIG_NOT_FOUND', `cannot read ${what} ${path}: ${(error as NodeJS.ErrnoException).code ?? 'error'}`, { field });
  }
}

/** The YAML files of `target` (a directory: its *.yaml and *.yml files, not sub-directories, in name order; or one file). */
export function readSources(target: string): SourceFile[] {
  let isDirectory: boolean;
  try {
    isDirectory = statSync(target).isDirectory();
  } catch (error) {
    throw new InterlockError('IL_ERR_CONFIG_NOT_FOUND', `cannot read ${target}: ${(error as NodeJS.ErrnoException).code ?? 'error'}`, { field: '-f' });
  }
  const paths = isDirectory ? readdirSync(target).filter((name) => YAML_FILE.test(name)).sort().map((name) => join(target, name)) : [target];
  if (paths.length === 0) throw new InterlockError('IL_ERR_DECLARATIVE_INVALID', `${target} holds no .yaml or .yml files`, { field: '-f' });
  return paths.map((path) => ({ path, text: readText(path, 'configuration file', '-f') }));
}

/** Loads, checks and normalises `target`; throws IL_ERR_DECLARATIVE_INVALID naming every problem. */
export function loadConfiguration(target: string): Normalised {
  const { documents, problems } = parseSources(readSources(target));
  const result = normalise(documents, (yamlFile, file) => readText(resolve(dirname(yamlFile), file), 'policy file', 'spec.file'));
  const all = [...problems, ...result.problems];
  if (all.length > 0) throw problemsError(all);
  return result;
}
