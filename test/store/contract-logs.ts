/** Contract: policy versions, events, the audit chain, and how times are stored. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { computeRecordHash, GENESIS_HASH, nextRecord, type AuditRecord } from '../../src/audit/record.ts';
import { fixedClock } from '../../src/clock.ts';
import { assertValidChain, at, cluster, policy, rejectsWith, withStore, type OpenStore } from './fixtures.ts';

export function logContract(open: OpenStore): void {
  describe('policy versions', () => {
    test('versions 1, 2, 3 assigned by the store; get, list, compare-and-set status', () => withStore(open, async (store) => {
      const v1 = await store.insertPolicyVersion(policy('permit(principal, action, resource);'));
      const v2 = await store.insertPolicyVersion(policy('forbid(principal, action, resource);', { comment: 'tighten' }));
      assert.equal(v1.version, 1);
      assert.deepEqual(v2, { version: 2, ...policy('forbid(principal, action, resource);', { comment: 'tighten' }) });
      assert.deepEqual(await store.getPolicyVersion(2), v2);
      assert.equal(await store.getPolicyVersion(3), undefined);
      assert.deepEqual(await store.listPolicyVersions(), [v1, v2]);

      assert.equal(await store.setPolicyStatus(1, 'proposed', 'approved', 'bob', at(20), 'looks good'), true);
      assert.equal(await store.setPolicyStatus(1, 'proposed', 'rejected', 'carol', at(21)), false, 'status moved on');
      assert.equal(await store.setPolicyStatus(9, 'proposed', 'approved', 'bob', at(20)), false, 'unknown version');
      assert.deepEqual(await store.getPolicyVersion(1), { ...v1, status: 'approved', decidedBy: 'bob', decidedAt: at(20), comment: 'looks good' });
      // No comment argument keeps the stored comment; null clears it.
      assert.equal(await store.setPolicyStatus(2, 'proposed', 'rejected', 'bob', at(22)), true);
      assert.equal((await store.getPolicyVersion(2))?.comment, 'tighten');
      assert.equal(await store.setPolicyStatus(1, 'approved', 'active', 'bob', at(23), null), true);
      assert.equal((await store.getPolicyVersion(1))?.comment, null);
    }));

    test('getActivePolicy: none, then the active one, then the newest active', () => withStore(open, async (store) => {
      assert.equal(await store.getActivePolicy(), undefined);
      await store.insertPolicyVersion(policy('a'));
      assert.equal(await store.getActivePolicy(), undefined);
      await store.setPolicyStatus(1, 'proposed', 'active', 'bob', at(20));
      assert.equal((await store.getActivePolicy())?.version, 1);
      await store.insertPolicyVersion(policy('b', { status: 'active' }));
      assert.equal((await store.getActivePolicy())?.version, 2);
      await store.setPolicyStatus(2, 'active', 'superseded', 'bob', at(30));
      assert.equal((await store.getActivePolicy())?.version, 1);
    }));

    test('20 concurrent inserts get versions 1..20 with no gap or repeat', () => withStore(open, async (store) => {
      const rows = await Promise.all(Array.from({ length: 20 }, (_, i) => store.insertPolicyVersion(policy(`p${i}`))));
      assert.deepEqual(rows.map((r) => r.version).sort((a, b) => a - b), Array.from({ length: 20 }, (_, i) => i + 1));
      assert.deepEqual((await store.listPolicyVersions()).map((r) => r.version), Array.from({ length: 20 }, (_, i) => i + 1));
    }));

    test('a rolled-back insert leaves no gap', () => withStore(open, async (store) => {
      await store.insertPolicyVersion(policy('a'));
      await assert.rejects(store.transaction(async (tx) => {
        assert.equal((await tx.insertPolicyVersion(policy('b'))).version, 2);
        throw new Error('abort');
      }));
      assert.equal((await store.insertPolicyVersion(policy('c'))).version, 2);
    }));
  });

  describe('events', () => {
    test('ids increase; eventsSince is oldest first, after a cursor, limited; latestEventId', () => withStore(open, async (store) => {
      assert.equal(await store.latestEventId(), 0);
      assert.deepEqual(await store.eventsSince(0), []);
      const e1 = await store.appendEvent('bundle.changed', { reason: 'root created', n: 1 }, at(1));
      const e2 = await store.appendEvent('svid.revoked', { serial: 'ab', nested: { list: [1, 2] } }, at(2));
      const e3 = await store.appendEvent('policy.activated', {}, at(3));
      assert.ok(e1.id > 0 && e2.id > e1.id && e3.id > e2.id);
      assert.deepEqual(e2, { id: e2.id, type: 'svid.revoked', payload: { serial: 'ab', nested: { list: [1, 2] } }, createdAt: at(2) });
      assert.deepEqual(await store.eventsSince(0), [e1, e2, e3]);
      assert.deepEqual(await store.eventsSince(e1.id), [e2, e3]);
      assert.deepEqual(await store.eventsSince(e1.id, 1), [e2]);
      assert.deepEqual(await store.eventsSince(e3.id), []);
      assert.equal(await store.latestEventId(), e3.id);
      await rejectsWith(store.appendEvent('x', [] as unknown as Record<string, unknown>, at(4)), 'IL_ERR_INTERNAL', 'payload');
      await rejectsWith(store.eventsSince(-1), 'IL_ERR_INTERNAL', 'afterId');
    }));

    test('concurrent appends: distinct increasing ids, all visible in order', () => withStore(open, async (store) => {
      const rows = await Promise.all(Array.from({ length: 30 }, (_, i) => store.appendEvent('t', { i }, at(i))));
      const ids = rows.map((r) => r.id);
      assert.equal(new Set(ids).size, 30);
      const listed = await store.eventsSince(0);
      assert.deepEqual(listed.map((r) => r.id), [...ids].sort((a, b) => a - b));
    }));
  });

  describe('audit chain', () => {
    test('50 concurrent appends make seq 1..50 and one valid chain', () => withStore(open, async (store) => {
      const appended = await Promise.all(Array.from({ length: 50 }, (_, i) =>
        store.appendAudit({ type: 'svid.issued', actor: `spiffe://east.acme.internal/ns/a/sa/w${i}`, data: { i, serial: `s-${i}` } }, at(i)),
      ));
      const records = await store.auditSince(0);
      assert.deepEqual(records.map((r) => r.seq), Array.from({ length: 50 }, (_, i) => i + 1));
      assert.equal(records[0]?.prev, GENESIS_HASH);
      assertValidChain(records);
      assert.deepEqual([...appended].sort((a, b) => a.seq - b.seq), records, 'what was returned is what was stored');
      assert.deepEqual(await store.auditSince(10, 5), records.slice(10, 15));
      assert.deepEqual(await store.auditSince(50), []);
    }));

    test('awkward data reads back with the same hash', () => withStore(open, async (store) => {
      const data = {
        z: 1, a: 2, 'ü-key': 'ünïcödé 日本 🔐', nul: 'a\u0000b', lone: '\ud800', backslash: '\\u0000',
        numbers: [0, -0, 1e21, 1e-7, 5e-324, 1.7976931348623157e308, 0.1 + 0.2, -123456789012345, 2 ** 53 + 2],
        nested: { deep: [{ x: null, y: true, z: false }], empty: {}, list: [] },
        dropped: undefined, when: new Date('2025-01-01T00:00:00.000Z'),
      };
      const first = await store.appendAudit({ type: 'policy.decision', data }, at(1));
      const second = await store.appendAudit({ type: 'type\u0000with-nul', actor: 'actor\u0000x', data: {} }, at(2));
      const [r1, r2] = await store.auditSince(0);
      assert.deepEqual(r1, first);
      assert.deepEqual(r2, second);
      assert.equal(computeRecordHash(r1!), first.hash);
      assert.equal(computeRecordHash(r2!), second.hash);
      assert.equal(r1!.actor, undefined);
      assert.ok(!('actor' in r1!), 'no actor key when there was no actor');
      assert.deepEqual(r1!.data.numbers, JSON.parse(JSON.stringify(data.numbers)));
      assertValidChain([r1!, r2!]);
    }));

    test('appends inside and outside a transaction interleave into one chain', () => withStore(open, async (store) => {
      const outside = Array.from({ length: 10 }, (_, i) => store.appendAudit({ type: 'outside', data: { i } }, at(i)));
      const inside = store.transaction((tx) => Promise.all(Array.from({ length: 10 }, (_, i) => tx.appendAudit({ type: 'inside', data: { i } }, at(i)))));
      await Promise.all([...outside, inside]);
      const records = await store.auditSince(0);
      assert.equal(records.length, 20);
      assertValidChain(records);
    }));

    test('a bad event is refused and the chain goes on', () => withStore(open, async (store) => {
      await rejectsWith(store.appendAudit({ type: '', data: {} }, at(1)), 'IL_ERR_INTERNAL', 'type');
      await rejectsWith(store.appendAudit({ type: 'x', data: {} }, 'yesterday'), 'IL_ERR_INTERNAL', 'at');
      const r = await store.appendAudit({ type: 'x', data: {} }, at(1));
      assert.equal(r.seq, 1);
    }));
  });

  describe('gateway audit streams', () => {
    /** A chain of n records as a gateway's audit file would hold them. */
    const chain = (n: number, start: AuditRecord | undefined = undefined): AuditRecord[] => {
      const records: AuditRecord[] = [];
      let previous = start;
      for (let i = 0; i < n; i++) {
        previous = nextRecord(previous, { type: 'policy.decision', actor: 'spiffe://east.acme.internal/ns/interlock-system/sa/interlock-gateway', data: { decision: 'allow', traceId: `trace-${i}` } }, fixedClock(at(i)));
        records.push(previous);
      }
      return records;
    };

    test('a batch is stored in order; sending it again stores nothing twice; heads and reads per stream', () => withStore(open, async (store) => {
      const records = chain(5);
      assert.deepEqual(await store.appendGatewayAudit('west', records.slice(0, 3), at(10)), { head: 3, inserted: 3, conflict: null });
      // The answer was lost: the gateway resends 1-3 with 4-5.
      assert.deepEqual(await store.appendGatewayAudit('west', records, at(11)), { head: 5, inserted: 2, conflict: null });
      assert.deepEqual(await store.gatewayAuditSince('west', 0), records);
      assert.deepEqual(await store.gatewayAuditSince('west', 3, 1), [records[3]]);
      assert.deepEqual(await store.appendGatewayAudit('east', chain(1), at(12)), { head: 1, inserted: 1, conflict: null });
      assert.deepEqual(await store.gatewayAuditHeads(), [
        { stream: 'east', seq: 1, hash: chain(1)[0]!.hash },
        { stream: 'west', seq: 5, hash: records[4]!.hash },
      ]);
    }));

    test('a gap stops the batch at the head; a record that contradicts the stored one or does not link is a conflict', () => withStore(open, async (store) => {
      const records = chain(4);
      assert.deepEqual(await store.appendGatewayAudit('west', [records[0]!, records[2]!], at(10)), { head: 1, inserted: 1, conflict: null });
      const forged = { ...records[0]!, hash: 'f'.repeat(64) };
      assert.deepEqual(await store.appendGatewayAudit('west', [forged], at(11)), { head: 1, inserted: 0, conflict: 1 });
      const other = chain(2, { ...records[0]!, hash: 'e'.repeat(64) })[0]!; // seq 2, but linked to another record 1
      assert.deepEqual(await store.appendGatewayAudit('west', [other], at(12)), { head: 1, inserted: 0, conflict: 2 });
      assert.deepEqual(await store.gatewayAuditSince('west', 0), [records[0]]);
    }));
  });

  describe('times', () => {
    test('stored in the fixed UTC form: an offset time reads back as the same instant with Z', () => withStore(open, async (store) => {
      await store.insertCluster(cluster('east', { createdAt: '2025-01-01T02:00:00+02:00' }));
      assert.equal((await store.getCluster('east'))?.createdAt, '2025-01-01T00:00:00.000Z');
      await store.insertCluster(cluster('west', { createdAt: '2025-06-30T23:59:59.999Z' }));
      assert.equal((await store.getCluster('west'))?.createdAt, '2025-06-30T23:59:59.999Z');
      const e = await store.appendEvent('t', {}, '2025-01-01T00:00:00.5Z');
      assert.equal(e.createdAt, '2025-01-01T00:00:00.500Z');
      const r = await store.appendAudit({ type: 't', data: {} }, '2025-01-01T01:00:00+01:00');
      assert.equal(r.time, '2025-01-01T00:00:00.000Z');
    }));

    test('a time that is not ISO 8601 is refused naming the field', () => withStore(open, async (store) => {
      await rejectsWith(store.insertCluster(cluster('east', { createdAt: 'Jan 1 2025' })), 'IL_ERR_INTERNAL', 'createdAt');
      await rejectsWith(store.insertCluster(cluster('east', { createdAt: '2025-13-45T00:00:00Z' })), 'IL_ERR_INTERNAL', 'createdAt');
      await rejectsWith(store.listSvids({ validAt: 'now' }), 'IL_ERR_INTERNAL', 'validAt');
      assert.deepEqual(await store.listClusters(), []);
    }));
  });
}
