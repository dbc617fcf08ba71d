import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, describe, test } from 'node:test';
import Database from 'better-sqlite3';
import { openSqliteStore } from '../../src/store/sqlite/store.ts';
import { openStore } from '../../src/store/open.ts';
import { LATEST_SCHEMA_VERSION } from '../../src/store/migrations.ts';
import { storeContract } from './contract.ts';
import { setTimeout as sleep } from 'node:timers/promises';
import { assertValidChain, at, cluster, deferred, entry, rejectsWith } from './fixtures.ts';

const root = mkdtempSync(join(tmpdir(), 'interlock-sqlite-'));
after(() => rmSync(root, { recursive: true, force: true }));
let counter = 0;
function freshPath(): string {
  counter += 1;
  return join(root, `case-${counter}`, 'state', 'interlock.db');
}

storeContract('sqlite (file)', () => openSqliteStore(freshPath()));
storeContract('sqlite (:memory:)', () => openSqliteStore(':memory:'));

describe('SQLite store', () => {
  test('creates its folder and a 0600 file in WAL mode; data survives close and reopen', async () => {
    const path = freshPath();
    const store = await openStore(`sqlite:${path}`);
    await store.insertCluster(cluster('east'));
    const e = entry('east', 'api', { gateway: true });
    await store.insertEntry(e);
    await store.putSetting('org', { organization: 'Acme' });
    for (let i = 0; i < 5; i += 1) await store.appendAudit({ type: 't', data: { i } }, at(i));
    assert.equal(statSync(`${path}-wal`).mode & 0o777, 0o600, 'the WAL file too');
    await store.close();
    assert.equal(statSync(path).mode & 0o777, 0o600);
    assert.equal(statSync(dirname(path)).mode & 0o777, 0o700);

    const raw = new Database(path, { readonly: true });
    assert.equal(raw.pragma('journal_mode', { simple: true }), 'wal');
    raw.close();

    const again = await openStore(`sqlite:${path}`);
    try {
      assert.deepEqual(await again.getEntry(e.id), e);
      assert.deepEqual(await again.getSetting('org'), { organization: 'Acme' });
      const records = await again.auditSince(0);
      assert.equal(records.length, 5);
      assertValidChain(records);
      assert.equal((await again.appendAudit({ type: 't', data: {} }, at(9))).seq, 6);
      assert.equal(await again.migrate(), LATEST_SCHEMA_VERSION);
    } finally {
      await again.close();
    }
  });

  test('two store objects on one file in one process take turns instead of failing with SQLITE_BUSY', async () => {
    const path = freshPath();
    const a = await openStore(`sqlite:${path}`);
    const b = await openStore(`sqlite:${path}`);
    try {
      const entered = deferred();
      const tx = a.transaction(async (t) => {
        await t.insertCluster(cluster('east'));
        entered.resolve();
        await sleep(50);
        // Calling the other object on the same file would wait for this transaction: refused.
        await rejectsWith(b.listClusters(), 'IL_ERR_INTERNAL', 'tx');
        await t.insertCluster(cluster('west'));
      });
      await entered.promise;
      const started = Date.now();
      await b.insertCluster(cluster('north'));
      assert.ok(Date.now() - started < 4_000, 'waited for the transaction, not for busy_timeout');
      await tx;
      assert.deepEqual((await b.listClusters()).map((c) => c.name), ['east', 'north', 'west']);

      const release = deferred();
      const job = a.runExclusive('job', () => release.promise);
      assert.deepEqual(await b.runExclusive('job', async () => 1), { ran: false }, 'one job per file');
      release.resolve();
      assert.deepEqual(await job, { ran: true, result: undefined });
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  test('a database with a newer schema is refused with IL_ERR_STORE_MIGRATION_FAILED', async () => {
    const path = freshPath();
    await (await openStore(`sqlite:${path}`)).close();
    const raw = new Database(path);
    raw.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)').run(LATEST_SCHEMA_VERSION + 1, 'from the future', at(0));
    raw.close();
    await rejectsWith(openStore(`sqlite:${path}`), 'IL_ERR_STORE_MIGRATION_FAILED', 'store');
  });

  test('foreign keys are enforced and audit records cannot be changed', async () => {
    const path = freshPath();
    const store = await openStore(`sqlite:${path}`);
    await store.appendAudit({ type: 't', data: {} }, at(0));
    await store.close();
    const raw = new Database(path);
    assert.throws(() => raw.prepare("UPDATE audit_records SET type = 'edited'").run(), /append-only/);
    assert.throws(() => raw.prepare('DELETE FROM audit_records').run(), /append-only/);
    raw.close();
  });

  test('a file that is not a database is IL_ERR_STORE_UNAVAILABLE', async () => {
    const path = freshPath();
    await (await openStore(`sqlite:${path}`)).close();
    writeFileSync(path, 'this is not a database, just some text that is long enough to look like a header'.repeat(20));
    rmSync(`${path}-wal`, { force: true });
    rmSync(`${path}-shm`, { force: true });
    await rejectsWith(openStore(`sqlite:${path}`), 'IL_ERR_STORE_UNAVAILABLE', 'store');
  });

  test('a folder that cannot be created is IL_ERR_STORE_UNAVAILABLE', async () => {
    const blocker = join(root, 'a-file');
    writeFileSync(blocker, '');
    await rejectsWith(openStore(`sqlite:${join(blocker, 'sub', 'x.db')}`), 'IL_ERR_STORE_UNAVAILABLE', 'store');
  });
});

describe('openStore', () => {
  test('anything but sqlite:<path> or a postgres URL is IL_ERR_CONFIG_INVALID with a hint', async () => {
    for (const spec of ['mysql://root:secret@db/x', 'interlock.db', 'sqlite:', '', 'postgres:/nohost']) {
      const error = await rejectsWith(openStore(spec), 'IL_ERR_CONFIG_INVALID', 'store');
      assert.ok(error.hint, 'has a hint');
      assert.ok(!error.message.includes('secret'));
    }
  });

  test('sqlite::memory: is migrated and ready', async () => {
    const store = await openStore('sqlite::memory:');
    try {
      assert.equal(store.kind, 'sqlite');
      await store.insertCluster(cluster('east'));
      assert.equal((await store.listClusters()).length, 1);
    } finally {
      await store.close();
    }
  });
});
