/** Contract: the declared service catalogue and configuration revisions (interlock apply). */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { ServiceRow } from '../../src/store/types.ts';
import { at, cluster, rejectsWith, withStore, type OpenStore } from './fixtures.ts';

function service(clusterName: string, name: string, over: Partial<ServiceRow> = {}): ServiceRow {
  return {
    cluster: clusterName, name, namespace: name, classification: 'internal', critical: false,
    createdAt: at(0), createdBy: 'admin:alice', updatedAt: at(0), updatedBy: 'admin:alice', ...over,
  };
}

const revision = (n: number, over: Record<string, unknown> = {}) => ({
  digest: `sha256:${String(n).repeat(64).slice(0, 64)}`,
  document: { clusters: [{ name: 'east', trustDomain: null, k8s: null }], entries: [], n, text: 'permit (principal, action, resource);\n' },
  action: 'apply' as const,
  sourceRevision: null,
  actor: 'admin:alice',
  createdAt: at(n),
  ...over,
});

export function catalogContract(open: OpenStore): void {
  describe('services', () => {
    test('put, get, list in (cluster, name) order; critical keeps booleans and path lists', () => withStore(open, async (store) => {
      await store.insertCluster(cluster('east'));
      await store.insertCluster(cluster('west'));
      const billing = service('west', 'billing', { classification: 'confidential', critical: ['POST /invoices', 'DELETE /invoices'] });
      const catalog = service('east', 'catalog', { critical: true });
      const search = service('east', 'search', { classification: 'public' });
      for (const s of [billing, search, catalog]) assert.deepEqual(await store.putService(s), s);
      assert.deepEqual(await store.getService('west', 'billing'), billing);
      assert.deepEqual(await store.getService('east', 'catalog'), catalog);
      assert.equal(await store.getService('east', 'billing'), undefined);
      assert.deepEqual((await store.listServices()).map((s) => `${s.cluster}/${s.name}`), ['east/catalog', 'east/search', 'west/billing']);
      assert.deepEqual(await store.listServices({ cluster: 'east' }), [catalog, search]);
      assert.deepEqual(await store.listServices({ cluster: 'north' }), []);
    }));

    test('putting an existing service replaces it but keeps who declared it first', () => withStore(open, async (store) => {
      await store.insertCluster(cluster('west'));
      const first = service('west', 'billing');
      await store.putService(first);
      const changed = service('west', 'billing', { classification: 'restricted', critical: ['POST /'], namespace: 'pay', createdAt: at(50), createdBy: 'admin:bob', updatedAt: at(50), updatedBy: 'admin:bob' });
      const stored = await store.putService(changed);
      assert.deepEqual(stored, { ...changed, createdAt: first.createdAt, createdBy: first.createdBy });
      assert.deepEqual(await store.getService('west', 'billing'), stored);
      assert.equal((await store.listServices()).length, 1);
    }));

    test('an unknown cluster is IL_ERR_CLUSTER_UNKNOWN; delete reports whether there was one', () => withStore(open, async (store) => {
      await rejectsWith(store.putService(service('ghost', 'billing')), 'IL_ERR_CLUSTER_UNKNOWN', 'cluster');
      await store.insertCluster(cluster('east'));
      await store.putService(service('east', 'catalog'));
      assert.equal(await store.deleteService('east', 'catalog'), true);
      assert.equal(await store.deleteService('east', 'catalog'), false);
      assert.deepEqual(await store.listServices(), []);
    }));

    test('a service put in a transaction that fails is not kept', () => withStore(open, async (store) => {
      await store.insertCluster(cluster('east'));
      await store.transaction(async (tx) => {
        await tx.putService(service('east', 'catalog'));
        throw new Error('later change failed');
      }).catch(() => undefined);
      assert.deepEqual(await store.listServices(), []);
    }));
  });

  describe('configuration revisions', () => {
    test('numbered 1, 2, 3; the document round-trips exactly; the list leaves documents out', () => withStore(open, async (store) => {
      assert.equal(await store.latestConfigRevision(), 0);
      const one = await store.insertConfigRevision(revision(1));
      const two = await store.insertConfigRevision(revision(2, { action: 'rollback', sourceRevision: 1, actor: 'admin:bob' }));
      assert.equal(one.revision, 1);
      assert.equal(two.revision, 2);
      assert.deepEqual(await store.getConfigRevision(1), { revision: 1, ...revision(1) });
      assert.deepEqual(await store.getConfigRevision(2), { revision: 2, ...revision(2, { action: 'rollback', sourceRevision: 1, actor: 'admin:bob' }) });
      assert.equal(await store.getConfigRevision(3), undefined);
      assert.equal(await store.getConfigRevision(1.5), undefined);
      assert.equal(await store.latestConfigRevision(), 2);
      const list = await store.listConfigRevisions();
      assert.deepEqual(list.map((r) => [r.revision, r.action, r.sourceRevision, r.actor]), [[1, 'apply', null, 'admin:alice'], [2, 'rollback', 1, 'admin:bob']]);
      assert.ok(list.every((r) => !('document' in r)));
    }));

    test('a rolled-back revision leaves no gap; concurrent inserts take distinct numbers', () => withStore(open, async (store) => {
      await store.transaction(async (tx) => {
        await tx.insertConfigRevision(revision(1));
        throw new Error('apply failed');
      }).catch(() => undefined);
      assert.equal(await store.latestConfigRevision(), 0);
      const rows = await Promise.all(Array.from({ length: 8 }, (_, i) => store.insertConfigRevision(revision(i + 1))));
      assert.deepEqual(rows.map((r) => r.revision).sort((a, b) => a - b), [1, 2, 3, 4, 5, 6, 7, 8]);
    }));
  });
}
