import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { Worker } from 'node:worker_threads';
import { AuditLog } from '../../src/audit/chain-file.ts';
import { verifyAuditLog } from '../../src/audit/verify.ts';

const root = mkdtempSync(join(tmpdir(), 'interlock-audit-lock-'));
after(() => rmSync(root, { recursive: true, force: true }));

function logIn(name: string): string {
  const dir = join(root, name);
  mkdirSync(dir, { recursive: true });
  return join(dir, 'events.audit.jsonl');
}

test('a lock left by a process that died is broken at once', () => {
  const path = logIn('dead');
  const dead = spawnSync(process.execPath, ['-e', '']).pid;
  writeFileSync(`${path}.lock`, `${dead} ${hostname()} 0000\n`);
  const started = Date.now();
  new AuditLog(path).append({ type: 'ca.created', data: {} });
  assert.ok(Date.now() - started < 2000, 'did not wait for the stale-age limit');
  assert.equal(existsSync(`${path}.lock`), false, 'the lock is released after the append');
  assert.equal(verifyAuditLog(path).ok, true);
});

test('a lock older than 10 s is broken even if its holder still runs', () => {
  const path = logIn('old');
  writeFileSync(`${path}.lock`, `${process.pid} ${hostname()} 0000\n`);
  const old = (Date.now() - 11_000) / 1000;
  utimesSync(`${path}.lock`, old, old);
  new AuditLog(path).append({ type: 'ca.created', data: {} });
  assert.equal(existsSync(`${path}.lock`), false);
});

test('append waits while a live process holds the lock, then proceeds', async () => {
  const path = logIn('live');
  const lockPath = `${path}.lock`;
  writeFileSync(lockPath, `${process.pid} ${hostname()} 0000\n`);
  // A worker thread releases the lock while append blocks the main thread.
  const worker = new Worker(
    `const { workerData } = require('node:worker_threads');
     const { unlinkSync } = require('node:fs');
     setTimeout(() => unlinkSync(workerData), 300);`,
    { eval: true, workerData: lockPath },
  );
  const exited = new Promise((resolve) => worker.once('exit', resolve));
  const started = Date.now();
  const record = new AuditLog(path).append({ type: 'ca.created', data: {} });
  const waited = Date.now() - started;
  await exited;
  assert.ok(waited >= 250, `append waited ${waited} ms for the lock`);
  assert.equal(record.seq, 1);
  assert.equal(existsSync(lockPath), false);
});
