/** Contract: settings, CAs, clusters, entries, join tokens, SVIDs and admins. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { admin, at, authority, cluster, entry, joinToken, rejectsWith, svid, withStore, type OpenStore } from './fixtures.ts';

export function registryContract(open: OpenStore): void {
  describe('settings', () => {
    test('round-trip JSON values, overwrite, and undefined when absent', () => withStore(open, async (store) => {
      assert.equal(await store.getSetting('org'), undefined);
      const value = { organization: 'Acme', domain: 'acme.internal', n: 1.5, big: 2 ** 53 - 1, tiny: 5e-324, list: [1, 'two', null, true], nested: { é: '日本', emoji: '🔐' } };
      await store.putSetting('org', value);
      assert.deepEqual(await store.getSetting('org'), value);
      await store.putSetting('org', 'replaced');
      assert.equal(await store.getSetting('org'), 'replaced');
      await store.putSetting('flag', false);
      assert.equal(await store.getSetting('flag'), false);
      await store.putSetting('nothing', null);
      assert.equal(await store.getSetting('nothing'), null);
    }));

    test('values JSON cannot carry, or JSONB cannot store, are refused on every store', () => withStore(open, async (store) => {
      await rejectsWith(store.putSetting('x', undefined), 'IL_ERR_INTERNAL', 'value');
      await rejectsWith(store.putSetting('x', { s: 'a\u0000b' }), 'IL_ERR_INTERNAL', 'value');
      await rejectsWith(store.putSetting('x', { s: '\ud800' }), 'IL_ERR_INTERNAL', 'value');
      // A literal backslash followed by "u0000" is an ordinary string.
      await store.putSetting('x', { s: '\\u0000' });
      assert.deepEqual(await store.getSetting('x'), { s: '\\u0000' });
    }));
  });

  describe('authorities', () => {
    test('put, upsert, filter and change status', () => withStore(open, async (store) => {
      await store.insertCluster(cluster('east'));
      const root = authority('01aa');
      const east = authority('02bb', { kind: 'cluster', cluster: 'east', createdAt: at(5) });
      await store.putAuthority(root);
      await store.putAuthority(east);
      assert.deepEqual(await store.listAuthorities(), [root, east]);
      assert.deepEqual(await store.listAuthorities({ kind: 'root' }), [root]);
      assert.deepEqual(await store.listAuthorities({ cluster: 'east' }), [east]);
      assert.deepEqual(await store.listAuthorities({ kind: 'cluster', cluster: 'east', status: 'published' }), []);
      assert.equal(await store.setAuthorityStatus('02bb', 'retired'), true);
      assert.equal(await store.setAuthorityStatus('nope', 'retired'), false);
      assert.deepEqual(await store.listAuthorities({ status: 'retired' }), [{ ...east, status: 'retired' }]);
      const renewed = { ...root, certPem: 'renewed', status: 'published' as const };
      await store.putAuthority(renewed);
      assert.deepEqual(await store.listAuthorities({ kind: 'root' }), [renewed]);
    }));

    test('a cluster CA must name a known cluster; a root names none', () => withStore(open, async (store) => {
      await rejectsWith(store.putAuthority(authority('03', { kind: 'cluster', cluster: 'ghost' })), 'IL_ERR_CLUSTER_UNKNOWN', 'cluster');
      await rejectsWith(store.putAuthority(authority('04', { kind: 'cluster', cluster: null })), 'IL_ERR_INTERNAL', 'kind');
      assert.deepEqual(await store.listAuthorities(), []);
    }));
  });

  describe('clusters', () => {
    test('insert, get, list in name order, set Kubernetes attestation', () => withStore(open, async (store) => {
      const west = cluster('west', { k8sJwks: '{"keys":[]}', k8sIssuer: 'https://kubernetes.default.svc' });
      await store.insertCluster(west);
      await store.insertCluster(cluster('east'));
      assert.deepEqual(await store.getCluster('west'), west);
      assert.equal(await store.getCluster('north'), undefined);
      assert.deepEqual((await store.listClusters()).map((c) => c.name), ['east', 'west']);
      assert.equal(await store.setClusterK8s('east', { jwks: '{"keys":[{"kty":"EC"}]}', issuer: 'https://east' }), true);
      assert.equal(await store.setClusterK8s('north', { jwks: null, issuer: null }), false);
      assert.deepEqual(await store.getCluster('east'), cluster('east', { k8sJwks: '{"keys":[{"kty":"EC"}]}', k8sIssuer: 'https://east' }));
      assert.equal(await store.setClusterK8s('west', { jwks: null, issuer: null }), true);
      assert.equal((await store.getCluster('west'))?.k8sJwks, null);
    }));

    test('a taken name or trust domain is IL_ERR_CLUSTER_EXISTS naming the field', () => withStore(open, async (store) => {
      await store.insertCluster(cluster('east'));
      await rejectsWith(store.insertCluster(cluster('east', { trustDomain: 'other.acme.internal' })), 'IL_ERR_CLUSTER_EXISTS', 'name');
      await rejectsWith(store.insertCluster(cluster('east2', { trustDomain: 'east.acme.internal' })), 'IL_ERR_CLUSTER_EXISTS', 'trustDomain');
      assert.equal((await store.listClusters()).length, 1);
    }));
  });

  describe('registration entries', () => {
    test('round-trip, filters, and booleans and nulls kept', () => withStore(open, async (store) => {
      await store.insertCluster(cluster('east'));
      await store.insertCluster(cluster('west'));
      const gw = entry('east', 'gateway', { gateway: true, namespace: null, serviceAccount: null, ttlSeconds: 600 });
      const api = entry('east', 'api');
      const westApi = entry('west', 'api');
      for (const e of [gw, api, westApi]) await store.insertEntry(e);
      assert.deepEqual(await store.getEntry(gw.id), gw);
      assert.deepEqual(await store.getEntry(api.id), api);
      assert.equal(await store.getEntry('00000000-0000-0000-0000-000000000000'), undefined);
      assert.deepEqual(await store.listEntries({ cluster: 'east' }), [api, gw]);
      assert.deepEqual(await store.listEntries({ spiffeId: westApi.spiffeId }), [westApi]);
      assert.deepEqual(await store.listEntries({ cluster: 'west', spiffeId: api.spiffeId }), []);
      assert.equal((await store.listEntries()).length, 3);
    }));

    test('the same SPIFFE ID twice in a cluster is IL_ERR_ENTRY_EXISTS; an unknown cluster is IL_ERR_CLUSTER_UNKNOWN', () => withStore(open, async (store) => {
      await store.insertCluster(cluster('east'));
      const api = entry('east', 'api');
      await store.insertEntry(api);
      await rejectsWith(store.insertEntry(entry('east', 'api')), 'IL_ERR_ENTRY_EXISTS', 'spiffeId');
      await rejectsWith(store.insertEntry(entry('east', 'other', { id: api.id })), 'IL_ERR_ENTRY_EXISTS', 'id');
      await rejectsWith(store.insertEntry(entry('ghost', 'api')), 'IL_ERR_CLUSTER_UNKNOWN', 'cluster');
      await rejectsWith(store.insertEntry(entry('east', 'frac', { ttlSeconds: 1.5 })), 'IL_ERR_INTERNAL', 'ttlSeconds');
      assert.equal((await store.listEntries()).length, 1);
    }));

    test('findEntryBySelectors matches cluster, namespace and service account; the oldest wins', () => withStore(open, async (store) => {
      await store.insertCluster(cluster('east'));
      await store.insertCluster(cluster('west'));
      const newer = entry('east', 'api', { spiffeId: 'spiffe://east.acme.internal/api-v2', createdAt: at(50) });
      const older = entry('east', 'api', { createdAt: at(5) });
      await store.insertEntry(newer);
      await store.insertEntry(older);
      await store.insertEntry(entry('east', 'noselectors', { namespace: null, serviceAccount: null }));
      assert.deepEqual(await store.findEntryBySelectors('east', 'default', 'api'), older);
      assert.equal(await store.findEntryBySelectors('west', 'default', 'api'), undefined);
      assert.equal(await store.findEntryBySelectors('east', 'other', 'api'), undefined);
      assert.equal(await store.findEntryBySelectors('east', 'default', 'noselectors'), undefined);
    }));

    test('updateEntry changes lifetime and selectors, and nothing else', () => withStore(open, async (store) => {
      await store.insertCluster(cluster('east'));
      const api = entry('east', 'api');
      await store.insertEntry(api);
      const changed = await store.updateEntry(api.id, { ttlSeconds: 120, serviceAccount: 'api-v2' });
      assert.deepEqual(changed, { ...api, ttlSeconds: 120, serviceAccount: 'api-v2' });
      assert.deepEqual(await store.getEntry(api.id), changed);
      assert.deepEqual(await store.findEntryBySelectors('east', 'default', 'api-v2'), changed);
      assert.equal(await store.findEntryBySelectors('east', 'default', 'api'), undefined);
      assert.deepEqual(await store.updateEntry(api.id, { namespace: null, serviceAccount: null }), { ...changed, namespace: null, serviceAccount: null });
      assert.equal(await store.updateEntry('no-such-entry', { ttlSeconds: 60 }), undefined);
    }));

    test('deleteEntry removes the entry and its join tokens', () => withStore(open, async (store) => {
      await store.insertCluster(cluster('east'));
      const api = entry('east', 'api');
      const keep = entry('east', 'keep');
      await store.insertEntry(api);
      await store.insertEntry(keep);
      const token = joinToken(api.id);
      const other = joinToken(keep.id);
      await store.insertJoinToken(token);
      await store.insertJoinToken(other);
      assert.equal(await store.deleteEntry(api.id), true);
      assert.equal(await store.deleteEntry(api.id), false);
      assert.equal(await store.getEntry(api.id), undefined);
      assert.deepEqual(await store.consumeJoinToken(token.tokenHash, at(1)), { status: 'unknown' });
      assert.equal((await store.consumeJoinToken(other.tokenHash, at(1))).status, 'ok');
    }));
  });

  describe('join tokens', () => {
    test('consume: ok once, then used; expired; unknown', () => withStore(open, async (store) => {
      await store.insertCluster(cluster('east'));
      const api = entry('east', 'api');
      await store.insertEntry(api);
      const token = joinToken(api.id, { expiresAt: at(600) });
      const stale = joinToken(api.id, { expiresAt: at(60) });
      await store.insertJoinToken(token);
      await store.insertJoinToken(stale);
      assert.deepEqual(await store.consumeJoinToken(token.tokenHash, at(100)), { status: 'ok', token: { ...token, usedAt: at(100) } });
      assert.deepEqual(await store.consumeJoinToken(token.tokenHash, at(101)), { status: 'used', token: { ...token, usedAt: at(100) } });
      // Expiry is exclusive: at expiresAt the token is already expired.
      assert.deepEqual(await store.consumeJoinToken(stale.tokenHash, at(60)), { status: 'expired', token: stale });
      assert.deepEqual(await store.consumeJoinToken('no-such-hash', at(1)), { status: 'unknown' });
    }));

    test('20 concurrent consumes of one token: exactly one ok', () => withStore(open, async (store) => {
      await store.insertCluster(cluster('east'));
      const api = entry('east', 'api');
      await store.insertEntry(api);
      const token = joinToken(api.id);
      await store.insertJoinToken(token);
      const results = await Promise.all(Array.from({ length: 20 }, (_, i) => store.consumeJoinToken(token.tokenHash, at(10 + i))));
      assert.equal(results.filter((r) => r.status === 'ok').length, 1);
      assert.equal(results.filter((r) => r.status === 'used').length, 19);
    }));

    test('a token for an unknown entry is IL_ERR_ENTRY_UNKNOWN', () => withStore(open, async (store) => {
      await rejectsWith(store.insertJoinToken(joinToken('00000000-0000-0000-0000-000000000000')), 'IL_ERR_ENTRY_UNKNOWN', 'entryId');
    }));
  });

  describe('SVIDs', () => {
    test('round-trip, and every listSvids filter alone and together', () => withStore(open, async (store) => {
      await store.insertCluster(cluster('east'));
      await store.insertCluster(cluster('west'));
      const api = entry('east', 'api');
      const db = entry('east', 'db');
      const westApi = entry('west', 'api');
      for (const e of [api, db, westApi]) await store.insertEntry(e);
      const a1 = svid('a1', api, { issuedAt: at(1), notAfter: at(100) });
      const a2 = svid('a2', api, { issuedAt: at(2), notAfter: at(1000), method: 'renewal' });
      const d1 = svid('d1', db, { issuedAt: at(3), notAfter: at(1000) });
      const w1 = svid('w1', westApi, { issuedAt: at(4), notAfter: at(1000), revokedAt: at(5), revocationReason: 'key compromise' });
      for (const s of [w1, d1, a2, a1]) await store.insertSvid(s);
      assert.deepEqual(await store.getSvid('a2'), a2);
      assert.deepEqual(await store.getSvid('w1'), w1);
      assert.equal(await store.getSvid('zz'), undefined);
      const serials = async (filter: Parameters<typeof store.listSvids>[0]): Promise<string[]> => (await store.listSvids(filter)).map((s) => s.serial);
      assert.deepEqual(await serials(undefined), ['a1', 'a2', 'd1', 'w1'], 'oldest issued first');
      assert.deepEqual(await serials({ cluster: 'east' }), ['a1', 'a2', 'd1']);
      assert.deepEqual(await serials({ spiffeId: api.spiffeId }), ['a1', 'a2']);
      assert.deepEqual(await serials({ validAt: at(100) }), ['a2', 'd1', 'w1'], 'expiry is exclusive');
      assert.deepEqual(await serials({ validAt: at(99) }), ['a1', 'a2', 'd1', 'w1']);
      assert.deepEqual(await serials({ revoked: true }), ['w1']);
      assert.deepEqual(await serials({ revoked: false }), ['a1', 'a2', 'd1']);
      assert.deepEqual(await serials({ limit: 2 }), ['a1', 'a2']);
      assert.deepEqual(await serials({ cluster: 'east', validAt: at(500), revoked: false, limit: 1 }), ['a2']);
      await rejectsWith(store.listSvids({ limit: 0 }), 'IL_ERR_INTERNAL', 'limit');
    }));

    test('revokeSvid: the first revocation wins; unknown serial is false', () => withStore(open, async (store) => {
      await store.insertCluster(cluster('east'));
      const api = entry('east', 'api');
      await store.insertEntry(api);
      await store.insertSvid(svid('s1', api));
      assert.equal(await store.revokeSvid('s1', at(10), 'key compromise'), true);
      assert.equal(await store.revokeSvid('s1', at(20), 'superseded'), false);
      const row = await store.getSvid('s1');
      assert.equal(row?.revokedAt, at(10));
      assert.equal(row?.revocationReason, 'key compromise');
      assert.equal(await store.revokeSvid('nope', at(10), 'x'), false);
    }));

    test('an SVID names a known cluster; a serial is recorded once', () => withStore(open, async (store) => {
      await store.insertCluster(cluster('east'));
      const api = entry('east', 'api');
      await store.insertEntry(api);
      await store.insertSvid(svid('s1', api));
      await rejectsWith(store.insertSvid(svid('s1', api)), 'IL_ERR_INTERNAL', 'serial');
      await rejectsWith(store.insertSvid(svid('s2', { ...api, cluster: 'ghost' })), 'IL_ERR_CLUSTER_UNKNOWN', 'cluster');
      // SVIDs outlive their entry: the inventory and revocation list keep them.
      await store.deleteEntry(api.id);
      assert.equal((await store.getSvid('s1'))?.entryId, api.id);
    }));
  });

  describe('admins', () => {
    test('round-trip, lookup by token hash, list in name order', () => withStore(open, async (store) => {
      const bob = admin('bob', { roles: ['policy-author', 'auditor'], disabled: true });
      const alice = admin('alice', { roles: [], tokenHash: null });
      const carol = admin('carol', { tokenHash: null });
      for (const a of [bob, alice, carol]) await store.insertAdmin(a);
      assert.deepEqual(await store.getAdmin('bob'), bob);
      assert.deepEqual(await store.getAdmin('alice'), alice);
      assert.equal(await store.getAdmin('dave'), undefined);
      assert.deepEqual(await store.getAdminByTokenHash('hash-of-bob'), bob);
      assert.equal(await store.getAdminByTokenHash('hash-of-nobody'), undefined);
      assert.deepEqual((await store.listAdmins()).map((a) => a.name), ['alice', 'bob', 'carol']);
    }));

    test('a taken name or token is IL_ERR_ADMIN_EXISTS naming the field', () => withStore(open, async (store) => {
      await store.insertAdmin(admin('bob'));
      await rejectsWith(store.insertAdmin(admin('bob', { tokenHash: 'other' })), 'IL_ERR_ADMIN_EXISTS', 'name');
      await rejectsWith(store.insertAdmin(admin('eve', { tokenHash: 'hash-of-bob' })), 'IL_ERR_ADMIN_EXISTS', 'tokenHash');
      assert.deepEqual((await store.listAdmins()).map((a) => a.name), ['bob']);
    }));

    test('updateAdmin changes roles and the disabled flag only', () => withStore(open, async (store) => {
      const bob = admin('bob', { roles: ['operator', 'key-custodian'] });
      await store.insertAdmin(bob);
      assert.deepEqual(await store.updateAdmin('bob', { roles: ['auditor'] }), { ...bob, roles: ['auditor'] });
      assert.deepEqual(await store.updateAdmin('bob', { disabled: true }), { ...bob, roles: ['auditor'], disabled: true });
      assert.deepEqual(await store.getAdminByTokenHash('hash-of-bob'), { ...bob, roles: ['auditor'], disabled: true });
      assert.equal(await store.updateAdmin('nobody', { disabled: true }), undefined);
    }));

    test("deleteUnusedJoinTokensBy removes only that actor's unused tokens", () => withStore(open, async (store) => {
      await store.insertCluster(cluster('east'));
      const api = entry('east', 'api');
      await store.insertEntry(api);
      const unused = joinToken(api.id, { createdBy: 'admin:bob' });
      const used = joinToken(api.id, { createdBy: 'admin:bob' });
      const other = joinToken(api.id, { createdBy: 'admin:alice' });
      for (const t of [unused, used, other]) await store.insertJoinToken(t);
      assert.equal((await store.consumeJoinToken(used.tokenHash, at(1))).status, 'ok');
      assert.equal(await store.deleteUnusedJoinTokensBy('admin:bob'), 1);
      assert.deepEqual(await store.consumeJoinToken(unused.tokenHash, at(2)), { status: 'unknown' });
      assert.equal((await store.consumeJoinToken(used.tokenHash, at(2))).status, 'used');
      assert.equal((await store.consumeJoinToken(other.tokenHash, at(2))).status, 'ok');
    }));
  });
}
