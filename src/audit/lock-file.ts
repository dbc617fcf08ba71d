/**
 * A cross-process exclusive lock held as a file created with O_CREAT|O_EXCL
 * (flag 'wx'). Node has no flock(2), and O_EXCL creation is atomic on local
 * file systems, so whoever creates the file holds the lock.
 *
 * The file holds "<pid> <hostname> <nonce>". A lock is stale, and may be
 * broken, when its holder is a process on this host that no longer exists,
 * or when it is older than STALE_LOCK_MS whoever holds it (a pid alone says
 * nothing across hosts or PID namespaces sharing a volume, and a pid can be
 * reused). Synchronous by design: callers hold it for one short write.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, fstatSync, linkSync, openSync, readFileSync, readSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';

/** A lock older than this is taken to belong to a hung or dead holder. */
export const STALE_LOCK_MS = 10_000;
/** Longer than STALE_LOCK_MS, so a dead holder's lock is always broken before a waiter gives up. */
export const LOCK_TIMEOUT_MS = 30_000;

export interface HeldLock {
  readonly path: string;
  readonly token: string;
}

const SLEEP_CELL = new Int32Array(new SharedArrayBuffer(4));
const HOST = hostname();

/** Takes the lock at `lockPath`, waiting with short sleeps while someone else holds it. */
export function acquireLock(lockPath: string, timeoutMs: number = LOCK_TIMEOUT_MS): HeldLock {
  const token = `${process.pid} ${HOST} ${randomBytes(8).toString('hex')}\n`;
  const deadline = Date.now() + timeoutMs;
  let delayMs = 1;
  for (;;) {
    if (tryCreate(lockPath, token)) return { path: lockPath, token };
    if (breakIfStale(lockPath)) continue;
    if (Date.now() >= deadline) {
      throw Object.assign(new Error(`timed out after ${timeoutMs} ms waiting for lock ${lockPath}`), { code: 'ETIMEDOUT' });
    }
    // Jitter so waiters that woke together do not collide again in lockstep.
    sleep(delayMs + Math.random() * delayMs);
    delayMs = Math.min(delayMs * 2, 4);
  }
}

/** Releases the lock, unless it was broken as stale and someone else holds it now. */
export function releaseLock(lock: HeldLock): void {
  let current: string;
  try {
    current = readFileSync(lock.path, 'utf8');
  } catch (err) {
    if (errorCode(err) === 'ENOENT') return;
    throw err;
  }
  if (current === lock.token) unlinkSync(lock.path);
}

function tryCreate(lockPath: string, token: string): boolean {
  let fd: number;
  try {
    fd = openSync(lockPath, 'wx', 0o600);
  } catch (err) {
    if (errorCode(err) === 'EEXIST') return false;
    throw err;
  }
  try {
    writeSync(fd, token);
  } catch (err) {
    // An empty lock file would block everyone for STALE_LOCK_MS.
    closeSync(fd);
    unlinkSync(lockPath);
    throw err;
  }
  closeSync(fd);
  return true;
}

/** True if the lock is gone or was stale and has been removed: try again at once. */
function breakIfStale(lockPath: string): boolean {
  const seen = readLock(lockPath);
  if (seen === undefined) return true;
  if (!isStale(seen.content, seen.mtimeMs)) return false;
  // Two waiters can judge the same lock stale; the first removes it and takes
  // a new one, and the second must not delete that. So move the file aside
  // first and delete it only if it is still the lock we judged stale.
  const aside = `${lockPath}.${process.pid}.${randomBytes(4).toString('hex')}.stale`;
  try {
    renameSync(lockPath, aside);
  } catch (err) {
    if (errorCode(err) === 'ENOENT') return true;
    throw err;
  }
  const moved = readLock(aside);
  if (moved !== undefined && moved.content !== seen.content) {
    // We moved a live lock: put it back. If someone created a lock in the
    // microseconds between, link fails and two holders overlap once; the
    // resulting fork in the chain is what verify reports.
    try {
      linkSync(aside, lockPath);
    } catch (err) {
      if (errorCode(err) !== 'EEXIST') throw err;
    }
  }
  unlinkSync(aside);
  return true;
}

function isStale(content: string, mtimeMs: number): boolean {
  if (Date.now() - mtimeMs > STALE_LOCK_MS) return true;
  const [pidText, host] = content.trim().split(' ');
  const pid = Number(pidText);
  // An unparsable lock is one being written right now; only age can break it.
  if (!Number.isSafeInteger(pid) || pid <= 0 || host !== HOST) return false;
  return !isAlive(pid);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: the process exists but belongs to another user.
    return errorCode(err) === 'EPERM';
  }
}

// Content and mtime from one open file, so both describe the same lock.
function readLock(path: string): { content: string; mtimeMs: number } | undefined {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (err) {
    if (errorCode(err) === 'ENOENT') return undefined;
    throw err;
  }
  try {
    const buffer = Buffer.alloc(1024);
    const length = readSync(fd, buffer, 0, buffer.length, 0);
    return { content: buffer.toString('utf8', 0, length), mtimeMs: fstatSync(fd).mtimeMs };
  } finally {
    closeSync(fd);
  }
}

function sleep(ms: number): void {
  Atomics.wait(SLEEP_CELL, 0, 0, ms);
}

function errorCode(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'code' in err ? String(err.code) : undefined;
}
