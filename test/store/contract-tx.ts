/** Contract: transactions, runExclusive, migrate and close. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { LATEST_SCHEMA_VERSION } from '../../src/store/migrations.ts';
import type { StoreOps } from '../../src/store/types.ts';
import { assertValidChain, at, cluster, deferred, entry, joinToken, policy, rejectsWith, settlesWithin, withStore, type OpenStore } from './fixtures.ts';

export function transactionContract(open: OpenStore): void {
  describe('transaction', () => {
    test('commits when fn resolves, returns its value, and sees its own writes', () => withStore(open, async (store) => {
      const result = await store.transaction(async (tx) => {
        await tx.insertCluster(cluster('east'));
        assert.equal((await tx.getCluster('east'))?.name, 'east');
        const e = entry('east', 'api');
        await tx.insertEntry(e);
        await tx.appendAudit({ type: 'cluster.added', data: { cluster: 'east' } }, at(1));
        return e.id;
      });
      assert.equal((await store.getEntry(result))?.cluster, 'east');
      assert.equal((await store.auditSince(0)).length, 1);
    }));

    test('rolls back everything when fn throws, and rethrows the same error', () => withStore(open, async (store) => {
      await store.appendAudit({ type: 'before', data: {} }, at(0));
      const boom = new Error('boom');
      const thrown = await store.transaction(async (tx) => {
        await tx.insertCluster(cluster('east'));
        const e = entry('east', 'api');
        await tx.insertEntry(e);
        await tx.insertJoinToken(joinToken(e.id));
        await tx.putSetting('k', 1);
        await tx.appendAudit({ type: 'inside', data: {} }, at(1));
        await tx.appendEvent('inside', {}, at(1));
        await tx.insertPolicyVersion(policy('p'));
        throw boom;
      }).catch((error: unknown) => error);
      assert.equal(thrown, boom, 'the very same error object');
      assert.deepEqual(await store.listClusters(), []);
      assert.deepEqual(await store.listEntries(), []);
      assert.equal(await store.getSetting('k'), undefined);
      assert.equal(await store.latestEventId(), 0);
      assert.deepEqual(await store.listPolicyVersions(), []);
      const after = await store.appendAudit({ type: 'after', data: {} }, at(2));
      assert.equal(after.seq, 2, 'the rolled-back record left no trace in the chain');
      assertValidChain(await store.auditSince(0));
    }));

    test('a conflict inside a transaction can be caught, and the rest still commits', () => withStore(open, async (store) => {
      await store.insertCluster(cluster('east'));
      await store.transaction(async (tx) => {
        await rejectsWith(tx.insertCluster(cluster('east')), 'IL_ERR_CLUSTER_EXISTS', 'name');
        await tx.insertCluster(cluster('west'));
      });
      assert.deepEqual((await store.listClusters()).map((c) => c.name), ['east', 'west']);
    }));

    test('calling the outer store from inside fails at once with IL_ERR_INTERNAL instead of deadlocking', () => withStore(open, async (store) => {
      await settlesWithin(store.transaction(async (tx) => {
        await tx.insertCluster(cluster('east'));
        await rejectsWith(store.listClusters(), 'IL_ERR_INTERNAL', 'tx');
        await rejectsWith(store.appendAudit({ type: 'x', data: {} }, at(1)), 'IL_ERR_INTERNAL', 'tx');
        await rejectsWith(store.transaction(async () => undefined), 'IL_ERR_INTERNAL', 'tx');
        await rejectsWith(store.migrate(), 'IL_ERR_INTERNAL', 'tx');
        await rejectsWith(store.close(), 'IL_ERR_INTERNAL', 'tx');
      }), 10_000, 'transaction with an outer call');
      assert.deepEqual((await store.listClusters()).map((c) => c.name), ['east'], 'the transaction still committed');
    }));

    test('a tx used after its transaction ended is refused', () => withStore(open, async (store) => {
      let kept: StoreOps | undefined;
      await store.transaction(async (tx) => {
        kept = tx;
      });
      await rejectsWith(kept!.listClusters(), 'IL_ERR_INTERNAL', 'tx');
    }));

    test('other callers never see uncommitted writes, and their own writes survive its rollback', () => withStore(open, async (store) => {
      const started = deferred();
      const tx = store.transaction(async (t) => {
        await t.insertCluster(cluster('ghost'));
        started.resolve();
        await sleep(100);
        throw new Error('abort');
      });
      await started.promise;
      const [seen] = await Promise.all([store.listClusters(), store.insertCluster(cluster('real'))]);
      assert.ok(!seen.some((c) => c.name === 'ghost'), 'uncommitted row was visible');
      await assert.rejects(tx, /abort/);
      assert.deepEqual((await store.listClusters()).map((c) => c.name), ['real']);
    }));

    test('concurrent transactions each commit or roll back whole', () => withStore(open, async (store) => {
      const runs = Array.from({ length: 10 }, (_, i) => store.transaction(async (tx) => {
        await tx.insertCluster(cluster(`c${i}`));
        await tx.appendAudit({ type: 'cluster.added', data: { i } }, at(i));
        await tx.appendEvent('bundle.changed', { i }, at(i));
        if (i % 2 === 1) throw new Error(`odd ${i}`);
      }));
      const results = await Promise.allSettled(runs);
      assert.equal(results.filter((r) => r.status === 'fulfilled').length, 5);
      assert.deepEqual((await store.listClusters()).map((c) => c.name), ['c0', 'c2', 'c4', 'c6', 'c8']);
      const records = await store.auditSince(0);
      assert.deepEqual(records.map((r) => r.data.i).sort(), [0, 2, 4, 6, 8]);
      assertValidChain(records);
      assert.equal((await store.eventsSince(0)).length, 5);
    }));
  });

  describe('runExclusive', () => {
    test('runs fn and returns its result; a second caller gets ran:false at once while it is held', () => withStore(open, async (store) => {
      const release = deferred();
      const entered = deferred();
      const first = store.runExclusive('rotate-ca', async () => {
        entered.resolve();
        await release.promise;
        return 42;
      });
      await entered.promise;
      assert.deepEqual(await settlesWithin(store.runExclusive('rotate-ca', async () => 1), 5_000, 'held runExclusive'), { ran: false });
      assert.deepEqual(await store.runExclusive('other-job', async () => 'ok'), { ran: true, result: 'ok' }, 'other names are independent');
      release.resolve();
      assert.deepEqual(await first, { ran: true, result: 42 });
      assert.deepEqual(await store.runExclusive('rotate-ca', async () => 'again'), { ran: true, result: 'again' });
    }));

    test('a throwing job releases the lock and rethrows', () => withStore(open, async (store) => {
      const boom = new Error('job failed');
      await assert.rejects(store.runExclusive('job', async () => {
        throw boom;
      }), (error) => error === boom);
      assert.deepEqual(await store.runExclusive('job', async () => 1), { ran: true, result: 1 });
    }));

    test('the job may use the store', () => withStore(open, async (store) => {
      const result = await store.runExclusive('job', async () => {
        await store.insertCluster(cluster('east'));
        return store.transaction(async (tx) => (await tx.listClusters()).length);
      });
      assert.deepEqual(result, { ran: true, result: 1 });
    }));
  });

  describe('migrate and close', () => {
    test('migrate is idempotent and returns the same version', () => withStore(open, async (store) => {
      assert.equal(await store.migrate(), LATEST_SCHEMA_VERSION);
      assert.equal(await store.migrate(), LATEST_SCHEMA_VERSION);
      await store.insertCluster(cluster('east'));
      assert.equal(await store.migrate(), LATEST_SCHEMA_VERSION);
      assert.equal((await store.listClusters()).length, 1, 'data kept');
    }));

    test('concurrent migrate calls on a fresh store agree', async () => {
      const store = await open();
      try {
        const versions = await Promise.all([store.migrate(), store.migrate(), store.migrate()]);
        assert.deepEqual(versions, [LATEST_SCHEMA_VERSION, LATEST_SCHEMA_VERSION, LATEST_SCHEMA_VERSION]);
      } finally {
        await store.close();
      }
    });

    test('after close every call is IL_ERR_STORE_UNAVAILABLE; close twice is fine', async () => {
      const store = await open();
      await store.migrate();
      await store.close();
      await store.close();
      await rejectsWith(store.listClusters(), 'IL_ERR_STORE_UNAVAILABLE', 'store');
      await rejectsWith(store.transaction(async () => undefined), 'IL_ERR_STORE_UNAVAILABLE', 'store');
      await rejectsWith(store.runExclusive('job', async () => undefined), 'IL_ERR_STORE_UNAVAILABLE', 'store');
    });
  });
}
