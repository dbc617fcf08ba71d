import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync, openSync, fsyncSync, closeSync } from 'node:fs';
import { InterlockError } from '../errors.ts';
import { dirname } from 'node:path';
import { randomBytes } from 'node:crypto';

/**
 * Writes a file so that readers see either the old content or the new, never
 * half of it: write a sibling temp file, fsync it, rename over the target
 * (rename is atomic within a file system, POSIX rename(2)).
 */
export function writeFileAtomic(path: string, data: string | Uint8Array, mode = 0o600): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const temp = `${path}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    writeFileSync(temp, data, { mode });
    const fd = openSync(temp, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(temp, path);
  } catch (error) {
    rmSync(temp, { force: true });
    throw error;
  }
}

/** Reads a key, certificate or secret file; any failure is IL_ERR_KEY_UNREADABLE naming the file and the setting it came from. */
export function readKeyMaterial(path: string, field: string): Buffer {
  try {
    return readFileSync(path);
  } catch (error) {
    throw new InterlockError('IL_ERR_KEY_UNREADABLE', `cannot read ${path}: ${(error as NodeJS.ErrnoException).code ?? 'error'}`, { field });
  }
}
