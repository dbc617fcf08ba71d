import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import https from 'node:https';
import { InterlockError, type ErrorCode } from '../../src/errors.ts';
import { verifyRecordChain } from '../../src/audit/verify-records.ts';
import type { ApiConnection } from '../../src/client/api.ts';
import { WorkloadIdentity } from '../../src/workload/identity.ts';
import { startTestControlPlane, type TestControlPlane } from '../helpers/control-plane.ts';

const POLICY = '@id("p") permit (principal, action, resource) when { context.method == "GET" };';

function failsWith(code: ErrorCode) {
  return (error: unknown) => {
    assert.ok(error instanceof InterlockError, String(error));
    assert.equal(error.code, code, error.message);
    return true;
  };
}

/** Reads Server-Sent Events from /v1/watch until `count` events arrived. */
function watch(connection: ApiConnection & { certPem: string; keyPem: string }, count: number): { events: Promise<Array<{ id: number; type: string; data: Record<string, unknown> }>>; close(): void } {
  let request: ReturnType<typeof https.request> | undefined;
  const events = new Promise<Array<{ id: number; type: string; data: Record<string, unknown> }>>((resolve, reject) => {
    const seen: Array<{ id: number; type: string; data: Record<string, unknown> }> = [];
    request = https.request(new URL('/v1/watch', connection.server), { cert: connection.certPem, key: connection.keyPem, ca: connection.bundlePem, checkServerIdentity: () => undefined }, (res) => {
      let buffer = '';
      res.on('data', (chunk: Buffer) => {
        buffer += chunk.toString('utf8');
        for (let end = buffer.indexOf('\n\n'); end !== -1; end = buffer.indexOf('\n\n')) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const fields = Object.fromEntries(block.split('\n').filter((l) => !l.startsWith(':')).map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 2)]));
          if (fields.event) seen.push({ id: Number(fields.id), type: fields.event, data: JSON.parse(fields.data ?? '{}') });
          if (seen.length >= count) resolve(seen);
        }
      });
    });
    request.on('error', reject);
    request.end();
  });
  return { events, close: () => request?.destroy() };
}

describe('admin roles and separation of duties', () => {
  let cp: TestControlPlane;
  let author: ApiConnection;
  let approver: ApiConnection;
  let authorApprover: ApiConnection;
  let auditor: ApiConnection;

  before(async () => {
    cp = await startTestControlPlane();
    author = await cp.adminWith('alice', ['policy-author']);
    approver = await cp.adminWith('bob', ['policy-approver']);
    authorApprover = await cp.adminWith('carol', ['policy-author', 'policy-approver']);
    auditor = await cp.adminWith('dave', ['auditor']);
  });
  after(() => cp?.close());

  test('a policy-author cannot approve or activate: the role is missing', async () => {
    const v = await cp.call<{ version: number }>('POST', '/v1/policies', { text: POLICY }, author);
    await assert.rejects(cp.call('POST', `/v1/policies/${v.version}/approve`, {}, author), failsWith('IL_ERR_ROLE_FORBIDDEN'));
    await assert.rejects(cp.call('POST', `/v1/policies/${v.version}/activate`, {}, author), failsWith('IL_ERR_ROLE_FORBIDDEN'));
  });

  test('even holding both roles, nobody approves or activates their own change', async () => {
    const v = await cp.call<{ version: number }>('POST', '/v1/policies', { text: POLICY }, authorApprover);
    await assert.rejects(cp.call('POST', `/v1/policies/${v.version}/approve`, {}, authorApprover), failsWith('IL_ERR_SEPARATION_OF_DUTIES'));
    await cp.call('POST', `/v1/policies/${v.version}/approve`, {}, approver);
    await assert.rejects(cp.call('POST', `/v1/policies/${v.version}/activate`, {}, authorApprover), failsWith('IL_ERR_SEPARATION_OF_DUTIES'));
    const active = await cp.call<{ status: string; decidedBy: string }>('POST', `/v1/policies/${v.version}/activate`, {}, approver);
    assert.equal(active.status, 'active');
    assert.equal(active.decidedBy, 'admin:bob');
  });

  test('a version moves only forward: activating an unapproved one is a conflict', async () => {
    const v = await cp.call<{ version: number }>('POST', '/v1/policies', { text: POLICY }, author);
    await assert.rejects(cp.call('POST', `/v1/policies/${v.version}/activate`, {}, approver), failsWith('IL_ERR_POLICY_STATE_CONFLICT'));
  });

  test('an invalid Cedar policy is refused at proposal with its position', async () => {
    await assert.rejects(cp.call('POST', '/v1/policies', { text: 'permit (principal, action, resource) when { context.x == };' }, author), (error: unknown) => {
      assert.ok(error instanceof InterlockError && error.code === 'IL_ERR_POLICY_INVALID');
      assert.match(error.message, /:1:\d+/);
      return true;
    });
  });

  test('an auditor can read everything but revoke nothing and change nothing', async () => {
    await cp.call('GET', '/v1/svids', undefined, auditor);
    await cp.call('GET', '/v1/audit', undefined, auditor);
    await cp.call('GET', '/v1/policies', undefined, auditor);
    await assert.rejects(cp.call('POST', '/v1/svids/0123abcd/revoke', { reason: 'x' }, auditor), failsWith('IL_ERR_ROLE_FORBIDDEN'));
    await assert.rejects(cp.call('POST', '/v1/clusters', { name: 'north' }, auditor), failsWith('IL_ERR_ROLE_FORBIDDEN'));
    await assert.rejects(cp.call('POST', '/v1/admins', { name: 'eve', roles: ['operator'] }, auditor), failsWith('IL_ERR_ROLE_FORBIDDEN'));
  });

  test('no token, a wrong token, or a malformed header is IL_ERR_AUTHN_REQUIRED', async () => {
    await assert.rejects(cp.call('GET', '/v1/svids', undefined, cp.anonymous), failsWith('IL_ERR_AUTHN_REQUIRED'));
    await assert.rejects(cp.call('GET', '/v1/svids', undefined, { ...cp.anonymous, token: 'iladm_wrong' }), failsWith('IL_ERR_AUTHN_REQUIRED'));
  });

  test('every admin action, allowed or refused, is an audit record with its actor; the chain verifies', async () => {
    const records = await cp.call<Array<{ type: string; actor: string; data: { status?: number; route?: string } }>>('GET', '/v1/audit?limit=10000', undefined, auditor);
    assert.equal(verifyRecordChain(records).ok, true);
    const refusedRevoke = records.find((r) => r.type === 'admin.request' && r.actor === 'admin:dave' && r.data.route === '/v1/svids/:serial/revoke');
    assert.equal(refusedRevoke?.data.status, 403);
    assert.ok(records.some((r) => r.type === 'policy.active' && r.actor === 'admin:bob'));
    assert.ok(records.some((r) => r.type === 'admin.created' && r.actor === 'admin:admin'));
    // A refused token leaves a trace too, even on a read: token guessing is recorded.
    const refusedToken = records.find((r) => r.type === 'admin.auth-failed' && r.data.route === '/v1/svids');
    assert.equal(refusedToken?.data.status, 401);
  });

  test('the watch stream pushes revocations and policy activations to an SVID holder', async () => {
    await cp.call('POST', '/v1/clusters', { name: 'east' });
    const entry = await cp.call<{ id: string }>('POST', '/v1/entries', { cluster: 'east', spiffeId: 'spiffe://east.acme.internal/ns/interlock-system/sa/interlock-gateway', gateway: true });
    const { token } = await cp.call<{ token: string }>('POST', '/v1/join-tokens', { entryId: entry.id });
    const gateway = await WorkloadIdentity.attest({ server: cp.server.url, bundlePem: cp.anonymous.bundlePem, attestation: { kind: 'join-token', token } });
    gateway.close();
    const stream = watch({ ...cp.anonymous, certPem: gateway.current.certPem, keyPem: gateway.current.keyPem }, 2);
    await new Promise((r) => setTimeout(r, 300));
    const custodian = await cp.adminWith('kc', ['key-custodian']);
    await cp.call('POST', `/v1/svids/${gateway.current.serial}/revoke`, { reason: 'compromised' }, custodian);
    const v = await cp.call<{ version: number }>('POST', '/v1/policies', { text: POLICY }, author);
    await cp.call('POST', `/v1/policies/${v.version}/approve`, {}, approver);
    await cp.call('POST', `/v1/policies/${v.version}/activate`, {}, approver);
    const events = await stream.events;
    stream.close();
    assert.deepEqual(events.map((e) => e.type), ['svid.revoked', 'policy.activated']);
    assert.equal(events[0]!.data.serial, gateway.current.serial);
    assert.ok(events[1]!.id > events[0]!.id);
  });
});

describe('policy proposals with a Cedar schema', () => {
  let cp: TestControlPlane;
  let author: ApiConnection;
  before(async () => {
    cp = await startTestControlPlane();
    author = await cp.adminWith('erin', ['policy-author']);
  });
  after(() => cp?.close());

  test('policies that do not validate against the schema are refused at proposal, naming the mistake', async () => {
    const { readFileSync } = await import('node:fs');
    const schema = readFileSync(new URL('../../examples/policies/interlock.cedarschema', import.meta.url), 'utf8');
    const good = await cp.call<{ version: number }>('POST', '/v1/policies', { text: readFileSync(new URL('../../examples/policies/classified-read-only.cedar', import.meta.url), 'utf8'), schema }, author);
    assert.ok(good.version >= 1);
    await assert.rejects(cp.call('POST', '/v1/policies', { text: 'permit (principal, action, resource) when { context.methd == "GET" };', schema }, author), (error: unknown) => {
      assert.ok(error instanceof InterlockError && error.code === 'IL_ERR_POLICY_INVALID');
      assert.match(error.message, /methd/);
      return true;
    });
  });
});
