import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { apiRequest, type ApiConnection } from '../../src/client/api.ts';
import { createCsr } from '../../src/pki/csr.ts';
import { exportPrivateKeyPem, generateKeyPair } from '../../src/pki/x509.ts';
import { gatewaySpiffeId } from '../../src/identity/spiffe-id.ts';
import { nextRecord, type AuditRecord } from '../../src/audit/record.ts';
import { systemClock } from '../../src/clock.ts';
import { startTestControlPlane, type TestControlPlane } from '../helpers/control-plane.ts';

const code = (expected: string) => (error: unknown) => {
  assert.equal((error as { code?: string }).code, expected, String(error));
  return true;
};

function chain(n: number): AuditRecord[] {
  const records: AuditRecord[] = [];
  for (let i = 0; i < n; i++) records.push(nextRecord(records.at(-1), { type: 'policy.decision', actor: 'x', data: { decision: 'allow', n: i } }, systemClock));
  return records;
}

describe('audit streams API', () => {
  let cp: TestControlPlane;
  let gateway: ApiConnection;

  before(async () => {
    cp = await startTestControlPlane();
    await cp.call('POST', '/v1/clusters', { name: 'east' });
    await cp.call('POST', '/v1/clusters', { name: 'west' });
    const entry = await cp.call<{ id: string }>('POST', '/v1/entries', { cluster: 'east', spiffeId: gatewaySpiffeId('east.acme.internal'), gateway: true });
    const { token } = await cp.call<{ token: string }>('POST', '/v1/join-tokens', { entryId: entry.id });
    const keys = await generateKeyPair();
    const { body } = await apiRequest<{ certChainPem: string }>(cp.anonymous, 'POST', '/v1/attest/join-token', { token, csr: await createCsr(keys) });
    gateway = { ...cp.anonymous, certPem: body.certChainPem, keyPem: await exportPrivateKeyPem(keys.privateKey) };
  });
  after(() => cp?.close());

  const post = (stream: string, records: unknown[]) => apiRequest<{ head: number; inserted: number }>(gateway, 'POST', `/v1/audit/streams/${encodeURIComponent(stream)}/records`, { records }).then((r) => r.body);

  test('a gateway writes its own streams, idempotently, from the head it is told', async () => {
    const records = chain(4);
    assert.deepEqual(await post('east', records.slice(0, 2)), { stream: 'east', head: 2, inserted: 2 });
    assert.deepEqual(await post('east', records), { stream: 'east', head: 4, inserted: 2 });
    assert.deepEqual((await apiRequest(gateway, 'GET', '/v1/audit/streams/east/head')).body, { stream: 'east', seq: 4, hash: records[3]!.hash });
    assert.equal((await post('east/replica-2', chain(1))).head, 1);
  });

  test("another cluster's stream is refused; so are an altered record and a batch that contradicts the stored chain", async () => {
    await assert.rejects(post('west', chain(1)), code('IL_ERR_ROLE_FORBIDDEN'));
    const altered = chain(2);
    (altered[1]!.data as Record<string, unknown>).decision = 'deny';
    await assert.rejects(post('east/other', altered), code('IL_ERR_AUDIT_BATCH_REFUSED'));
    // A different record 1 for a stream the control plane already holds.
    await assert.rejects(post('east', [nextRecord(undefined, { type: 'x', data: {} }, systemClock)]), code('IL_ERR_AUDIT_BATCH_REFUSED'));
    await assert.rejects(post('east', [{ seq: 1 }]), code('IL_ERR_AUDIT_BATCH_REFUSED'));
  });
});
