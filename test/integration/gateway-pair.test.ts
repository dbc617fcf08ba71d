import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import https from 'node:https';
import type { TLSSocket } from 'node:tls';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fixedClock } from '../../src/clock.ts';
import { gatewaySpiffeId } from '../../src/identity/spiffe-id.ts';
import { issueX509Svid } from '../../src/pki/certificates.ts';
import { certificatesToPem, exportPrivateKeyPem, generateKeyPair } from '../../src/pki/x509.ts';
import { verifyAuditLog } from '../../src/audit/verify.ts';
import { IDENTITY_HEADER, bindIdentityAssertion } from '../../src/gateway/identity-assertion.ts';
import { startLab, type LabWorld } from '../../src/lab/world.ts';
import { callThroughGateway, createWorkloadAgent } from '../../src/lab/workload-client.ts';
import { foreignCredentials, tryHandshake } from '../../src/lab/attackers.ts';
import { tempDir } from '../helpers/pki.ts';
import { runCliAsync } from '../helpers/cli.ts';
import { WorkloadIdentity } from '../../src/workload/identity.ts';

// A policy that also permits POST, so a large streamed body can be shown to flow through.
const POLICY = `
@id("frontend-uses-billing")
permit (
  principal == Interlock::Workload::"spiffe://east.acme.internal/ns/shop/sa/frontend",
  action == Interlock::Action::"call",
  resource == Interlock::Service::"west/billing"
) when { context.method == "GET" || context.method == "POST" };

@id("reporting-audits-confidential")
permit (
  principal == Interlock::Workload::"spiffe://east.acme.internal/ns/analytics/sa/reporting",
  action == Interlock::Action::"call",
  resource == Interlock::Service::"west/billing"
) when { context has purpose && context.purpose == "audit" && resource has classification && resource.classification == "confidential" && context.method == "GET" };

@id("no-deletes-ever")
forbid (principal, action, resource) when { context.method == "DELETE" };
`;

const billing = { host: 'billing.west.interlock' };

describe('a real gateway pair on loopback', () => {
  let world: LabWorld;
  const agents: https.Agent[] = [];
  const agentFor = (cluster: string, workload: string) => {
    const c = world.clusters.get(cluster)!;
    const agent = createWorkloadAgent(c.identities.get(workload)!, gatewaySpiffeId(c.trustDomain));
    agents.push(agent);
    return agent;
  };
  const eastOut = () => world.clusters.get('east')!.gateway.outbound;
  const westIn = () => world.clusters.get('west')!.gateway.inbound;
  const bundle = () => world.clusters.get('east')!.identities.get('frontend')!.bundlePem;
  const westAudit = () => readFileSync(world.clusters.get('west')!.gateway.auditPath, 'utf8').trim().split('\n').map((l) => JSON.parse(l));

  before(async () => {
    const dir = tempDir('interlock-pair-');
    const policyFile = join(dir, 'test-policy.cedar');
    writeFileSync(policyFile, POLICY);
    world = await startLab({ dir: join(dir, 'lab'), policyFile, gatewayLimits: { maxBodyBytes: 6 * 1024 * 1024, maxConnectionsPerPeer: 16, headersTimeoutMs: 1_500 } });
  });

  after(async () => {
    for (const agent of agents) agent.destroy();
    await world?.close();
  });

  test('an allowed call reaches the service, which sees the original workload identity', async () => {
    const result = await callThroughGateway(agentFor('east', 'frontend'), eastOut(), { ...billing, method: 'GET', path: '/invoices/1' });
    assert.equal(result.status, 200, result.body);
    const body = JSON.parse(result.body);
    assert.equal(body.caller, 'spiffe://east.acme.internal/ns/shop/sa/frontend');
    assert.equal(body.sourceCluster, 'east');
    assert.match(result.auditRef ?? '', /^west:\d+$/);
  });

  test('HTTP/2: a workload speaking h2 (ALPN) to its gateway sends several requests on one connection; each crosses with its identity', async () => {
    const http2 = await import('node:http2');
    const frontend = world.clusters.get('east')!.identities.get('frontend')!;
    const session = http2.connect(`https://${eastOut().host}:${eastOut().port}`, { cert: frontend.certPem, key: frontend.keyPem, ca: frontend.bundlePem, checkServerIdentity: () => undefined, minVersion: 'TLSv1.3' });
    try {
      await new Promise<void>((resolve, reject) => {
        session.once('connect', () => resolve());
        session.once('error', reject);
      });
      assert.equal(session.alpnProtocol, 'h2');
      const get = (path: string) =>
        new Promise<{ status: number; body: string }>((resolve, reject) => {
          const stream = session.request({ ':method': 'GET', ':path': path, ':authority': 'billing.west.interlock' });
          let status = 0;
          let body = '';
          stream.on('response', (headers) => (status = Number(headers[':status'])));
          stream.setEncoding('utf8').on('data', (c: string) => (body += c));
          stream.on('end', () => resolve({ status, body }));
          stream.on('error', reject);
        });
      const answers = await Promise.all([get('/invoices/1'), get('/invoices/2'), get('/invoices/3')]);
      for (const [i, answer] of answers.entries()) {
        assert.equal(answer.status, 200, answer.body);
        const seen = JSON.parse(answer.body) as { caller: string; path: string };
        assert.equal(seen.caller, 'spiffe://east.acme.internal/ns/shop/sa/frontend');
        assert.equal(seen.path, `/invoices/${i + 1}`);
      }
    } finally {
      session.close();
    }
  });

  test('keep-alive: a second call from the same workload reuses its connection', async () => {
    const agent = agentFor('east', 'frontend');
    await callThroughGateway(agent, eastOut(), { ...billing, method: 'GET', path: '/a' });
    const second = await callThroughGateway(agent, eastOut(), { ...billing, method: 'GET', path: '/b' });
    assert.equal(second.status, 200);
    assert.equal(second.reusedConnection, true);
  });

  test('a 4 MiB body streams through both gateways intact', async () => {
    const chunk = 'x'.repeat(64 * 1024);
    const chunks = Array.from({ length: 64 }, () => chunk);
    const result = await callThroughGateway(agentFor('east', 'frontend'), eastOut(), { ...billing, method: 'POST', path: '/upload', bodyChunks: chunks });
    assert.equal(result.status, 200, result.body);
    assert.equal(JSON.parse(result.body).bytesReceived, 4 * 1024 * 1024);
  });

  test('limits: oversize headers get 431, an oversize body 413 (declared or streamed), and the gateway keeps serving', async () => {
    const agent = agentFor('east', 'frontend');
    const call = (extra: Partial<Parameters<typeof callThroughGateway>[2]>) => callThroughGateway(agent, eastOut(), { ...billing, method: 'GET', path: '/invoices/1', ...extra }).catch((error: Error) => ({ status: 0, errorCode: error.message, body: '' }));
    const bigHeader = await call({ headers: { 'x-padding': 'p'.repeat(20_000) } });
    assert.equal(bigHeader.status, 431);
    const chunk = 'x'.repeat(64 * 1024);
    const streamed = await call({ method: 'POST', path: '/upload', bodyChunks: Array.from({ length: 112 }, () => chunk) }); // 7 MiB, chunked
    assert.equal(streamed.status, 413);
    assert.equal(streamed.errorCode, 'IL_ERR_BODY_TOO_LARGE');
    const declared = await call({ method: 'POST', path: '/upload', headers: { 'content-length': String(7 * 1024 * 1024) }, bodyChunks: ['x'] });
    assert.equal(declared.status, 413);
    // The refused requests' connections are closed (their bodies were not read); a new connection is served.
    const fresh = createWorkloadAgent(world.clusters.get('east')!.identities.get('frontend')!, gatewaySpiffeId(world.clusters.get('east')!.trustDomain));
    agents.push(fresh);
    assert.equal((await callThroughGateway(fresh, eastOut(), { ...billing, method: 'GET', path: '/invoices/1' })).status, 200, 'still serving');
  });

  test('slow clients: headers trickled a line at a time are cut off at limits.headersTimeoutMs, and the gateway keeps serving', async () => {
    const frontend = world.clusters.get('east')!.identities.get('frontend')!;
    const tls = await import('node:tls');
    const socket = tls.connect({ ...eastOut(), cert: frontend.certPem, key: frontend.keyPem, ca: frontend.bundlePem, checkServerIdentity: () => undefined, ALPNProtocols: ['http/1.1'] });
    await new Promise((resolve, reject) => socket.once('secureConnect', resolve).once('error', reject));
    const started = Date.now();
    socket.write('GET /invoices/1 HTTP/1.1\r\nHost: billing.west.interlock\r\n');
    const trickle = setInterval(() => socket.writable && socket.write('x-slow: 1\r\n'), 300);
    const closedAfter = await new Promise<number | null>((resolve) => {
      socket.once('close', () => resolve(Date.now() - started));
      socket.on('error', () => undefined);
      setTimeout(() => resolve(null), 15_000);
    });
    clearInterval(trickle);
    socket.destroy();
    assert.notEqual(closedAfter, null, 'a client that never finishes its headers must not keep its connection');
    const agent = agentFor('east', 'frontend');
    assert.equal((await callThroughGateway(agent, eastOut(), { ...billing, method: 'GET', path: '/invoices/1' })).status, 200, 'still serving');
  });

  test('paths in more than one form (needless escapes, //, dot segments) are refused before policy, at both gateways', async () => {
    const agent = agentFor('east', 'frontend');
    for (const path of ['/%69nvoices/1', '//invoices/1', '/x/../invoices/1', '/invoices%2F1', '/x/..;/invoices/1', '/invoices;jsessionid=1/1']) {
      const result = await callThroughGateway(agent, eastOut(), { ...billing, method: 'GET', path });
      assert.equal(result.status, 400, path);
      assert.equal(result.errorCode, 'IL_ERR_ROUTE_PATH_AMBIGUOUS', path);
    }
    assert.equal((await callThroughGateway(agent, eastOut(), { ...billing, method: 'GET', path: '/invoices/1?x=%2F' })).status, 200, 'a query may hold escapes');
  });

  test('one peer may hold at most limits.maxConnectionsPerPeer connections; the next handshake is refused and audited', async () => {
    const east = world.clusters.get('east')!;
    const reporting = east.identities.get('reporting')!;
    const sockets: import('node:tls').TLSSocket[] = [];
    const tls = await import('node:tls');
    const open = () =>
      new Promise<import('node:tls').TLSSocket>((resolve, reject) => {
        const socket = tls.connect({ ...eastOut(), cert: reporting.certPem, key: reporting.keyPem, ca: reporting.bundlePem, checkServerIdentity: () => undefined }, () => resolve(socket));
        socket.once('error', reject);
      });
    try {
      for (let i = 0; i < 16; i++) sockets.push(await open());
      await new Promise((r) => setTimeout(r, 100));
      assert.ok(sockets.every((s) => !s.destroyed), 'the first 16 stay open');
      const extra = await open();
      const closed = await new Promise<boolean>((resolve) => {
        extra.once('close', () => resolve(true));
        setTimeout(() => resolve(false), 2_000);
      });
      assert.equal(closed, true, 'the 17th is closed by the gateway');
      const audit = readFileSync(east.gateway.auditPath, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { type: string; data: { reason?: string } });
      assert.ok(audit.some((r) => r.type === 'connection.rejected' && r.data.reason?.startsWith('IL_ERR_PEER_CONNECTION_LIMIT')));
    } finally {
      sockets.forEach((s) => s.destroy());
    }
  });

  test('a workload without a policy is denied with IL_ERR_POLICY_DENIED, and the deny is audited', async () => {
    const result = await callThroughGateway(agentFor('east', 'reporting'), eastOut(), { ...billing, method: 'GET', path: '/invoices/1' });
    assert.equal(result.status, 403);
    assert.equal(result.errorCode, 'IL_ERR_POLICY_DENIED');
    const seq = Number(result.auditRef!.split(':')[1]);
    const record = westAudit().find((r) => r.seq === seq);
    assert.equal(record.type, 'policy.decision');
    assert.equal(record.data.decision, 'deny');
    assert.equal(record.data.principal, 'spiffe://east.acme.internal/ns/analytics/sa/reporting');
    assert.equal(record.data.resource, 'west/billing');
  });

  test('a declared purpose travels signed to the remote gateway, with the service classification, into the decision', async () => {
    const reporting = agentFor('east', 'reporting');
    const withPurpose = await callThroughGateway(reporting, eastOut(), { ...billing, method: 'GET', path: '/ledger', headers: { 'interlock-purpose': 'audit' } });
    assert.equal(withPurpose.status, 200, withPurpose.body);
    const record = westAudit().find((r) => r.seq === Number(withPurpose.auditRef!.split(':')[1]));
    assert.equal(record.data.purpose, 'audit');
    assert.equal(record.data.classification, 'confidential');
    assert.deepEqual(record.data.policyIds, ['reporting-audits-confidential']);
    assert.equal((await callThroughGateway(reporting, eastOut(), { ...billing, method: 'GET', path: '/ledger', headers: { 'interlock-purpose': 'marketing' } })).status, 403);
    const malformed = await callThroughGateway(reporting, eastOut(), { ...billing, method: 'GET', path: '/ledger', headers: { 'interlock-purpose': 'Not A Token!' } });
    assert.equal(malformed.errorCode, 'IL_ERR_REQUEST_INVALID');
  });

  test('a forbid policy wins over a permit, and the audit names it', async () => {
    const result = await callThroughGateway(agentFor('east', 'frontend'), eastOut(), { ...billing, method: 'DELETE', path: '/invoices/1' });
    assert.equal(result.status, 403);
    const record = westAudit().find((r) => r.seq === Number(result.auditRef!.split(':')[1]));
    assert.deepEqual(record.data.policyIds, ['no-deletes-ever']);
  });

  test('an identity header set by the workload is dropped; the gateway vouches for the real caller', async () => {
    const result = await callThroughGateway(agentFor('east', 'reporting'), eastOut(), {
      ...billing,
      method: 'GET',
      path: '/x',
      headers: { [IDENTITY_HEADER]: 'eyJhbGciOiJub25lIn0.e30.', 'interlock-caller': 'spiffe://east.acme.internal/ns/shop/sa/frontend' },
    });
    assert.equal(result.status, 403);
  });

  test('a workload calling the remote inbound listener directly is refused: only gateways may', async () => {
    const east = world.clusters.get('east')!;
    const agent = new https.Agent({ cert: east.identities.get('frontend')!.certPem, key: east.identities.get('frontend')!.keyPem, ca: bundle(), checkServerIdentity: () => undefined });
    agents.push(agent);
    const result = await callThroughGateway(agent, westIn(), { ...billing, method: 'GET', path: '/x' });
    assert.equal(result.status, 403);
    assert.equal(result.errorCode, 'IL_ERR_AUTHN_NOT_A_GATEWAY');
  });

  test('a peer gateway must carry a signed assertion bound to this very request', async () => {
    const east = world.clusters.get('east')!;
    // A second instance of east's gateway identity, attested with a fresh join token.
    const cp = world.controlPlane;
    const [gatewayEntry] = (await cp.call<Array<{ id: string; gateway: boolean }>>('GET', '/v1/entries?cluster=east')).filter((e) => e.gateway);
    const joinToken = await cp.call<{ token: string }>('POST', '/v1/join-tokens', { entryId: gatewayEntry!.id });
    const gatewayIdentity = await WorkloadIdentity.attest({ server: cp.url, bundlePem: cp.bundlePem, serverId: cp.spiffeId, attestation: { kind: 'join-token', token: joinToken.token } });
    gatewayIdentity.close();
    const gatewayCert = gatewayIdentity.current.certPem;
    const gatewayKey = gatewayIdentity.current.keyPem;
    const agent = new https.Agent({ cert: gatewayCert, key: gatewayKey, ca: bundle(), checkServerIdentity: () => undefined });
    agents.push(agent);
    const missing = await callThroughGateway(agent, westIn(), { ...billing, method: 'GET', path: '/x' });
    assert.equal(missing.errorCode, 'IL_ERR_IDENTITY_ASSERTION_INVALID');
    const claims = { issuer: east.gateway.spiffeId, subject: 'spiffe://east.acme.internal/ns/shop/sa/frontend', audience: 'west', method: 'GET', target: 'billing.west.interlock/other' };
    const bound = (c: typeof claims, at = new Date()) => (socket: TLSSocket) => ({ [IDENTITY_HEADER]: bindIdentityAssertion(socket, c, fixedClock(at)) });
    const replayedElsewhere = await callThroughGateway(agent, westIn(), { ...billing, method: 'GET', path: '/x', connectionHeaders: bound(claims) });
    assert.equal(replayedElsewhere.errorCode, 'IL_ERR_IDENTITY_ASSERTION_INVALID');
    // A valid assertion, captured and sent again on the same connection: the replay guard refuses it.
    let captured = '';
    const ok = await callThroughGateway(agent, westIn(), {
      ...billing,
      method: 'GET',
      path: '/x',
      connectionHeaders: (socket) => {
        captured = bindIdentityAssertion(socket, { ...claims, target: 'billing.west.interlock/x' }, fixedClock(new Date()));
        return { [IDENTITY_HEADER]: captured };
      },
    });
    assert.equal(ok.status, 200, ok.body);
    const single = new https.Agent({ cert: gatewayCert, key: gatewayKey, ca: bundle(), checkServerIdentity: () => undefined, keepAlive: true, maxSockets: 1 });
    agents.push(single);
    let first = '';
    const once = await callThroughGateway(single, westIn(), { ...billing, method: 'GET', path: '/x', connectionHeaders: (socket) => ({ [IDENTITY_HEADER]: (first = bindIdentityAssertion(socket, { ...claims, target: 'billing.west.interlock/x' }, fixedClock(new Date()))) }) });
    assert.equal(once.status, 200, once.body);
    const replayed = await callThroughGateway(single, westIn(), { ...billing, method: 'GET', path: '/x', headers: { [IDENTITY_HEADER]: first } });
    assert.equal(replayed.reusedConnection, true);
    assert.equal(replayed.status, 401);
    assert.equal(replayed.errorCode, 'IL_ERR_REPLAY_DETECTED');
    // The captured assertion on another connection: its MAC is bound to the first one.
    const moved = await callThroughGateway(agent, westIn(), { ...billing, method: 'GET', path: '/x', headers: { [IDENTITY_HEADER]: captured.replace(/.$/, (c) => (c === 'A' ? 'B' : 'A')) } });
    assert.equal(moved.errorCode, 'IL_ERR_IDENTITY_ASSERTION_INVALID');
    const another = new https.Agent({ cert: gatewayCert, key: gatewayKey, ca: bundle(), checkServerIdentity: () => undefined });
    agents.push(another);
    const elsewhere = await callThroughGateway(another, westIn(), { ...billing, method: 'GET', path: '/x', headers: { [IDENTITY_HEADER]: first } });
    assert.equal(elsewhere.errorCode, 'IL_ERR_IDENTITY_ASSERTION_INVALID');
    assert.match(elsewhere.body, /not bound to this connection/);
    // An assertion dated beyond the allowed clock skew (5 s) is refused.
    const fromTheFuture = await callThroughGateway(agent, westIn(), { ...billing, method: 'GET', path: '/x', connectionHeaders: bound({ ...claims, target: 'billing.west.interlock/x' }, new Date(Date.now() + 120_000)) });
    assert.equal(fromTheFuture.errorCode, 'IL_ERR_IDENTITY_ASSERTION_INVALID');
    // The inbound listener speaks HTTP/2 too: a peer gateway may multiplex its calls.
    const http2 = await import('node:http2');
    const session = http2.connect(`https://${westIn().host}:${westIn().port}`, { cert: gatewayCert, key: gatewayKey, ca: bundle(), checkServerIdentity: () => undefined });
    try {
      await new Promise((resolve, reject) => session.once('connect', resolve).once('error', reject));
      const h2Token = bindIdentityAssertion(session.socket as TLSSocket, { ...claims, target: 'billing.west.interlock/h2' }, fixedClock(new Date()));
      const { status, body } = await new Promise<{ status: number; body: string }>((resolve, reject) => {
        const stream = session.request({ ':method': 'GET', ':path': '/h2', ':authority': 'billing.west.interlock', [IDENTITY_HEADER]: h2Token });
        let answer = 0;
        let text = '';
        stream.on('response', (headers) => (answer = Number(headers[':status'])));
        stream.on('data', (chunk: Buffer) => (text += chunk.toString()));
        stream.on('end', () => resolve({ status: answer, body: text }));
        stream.on('error', reject);
      });
      assert.equal(session.alpnProtocol, 'h2');
      assert.equal(status, 200, body);
    } finally {
      session.close();
    }
    const vouchingForOthers = await callThroughGateway(agent, westIn(), { ...billing, method: 'GET', path: '/x', connectionHeaders: bound({ ...claims, subject: 'spiffe://west.acme.internal/ns/billing/sa/billing', target: 'billing.west.interlock/x' }) });
    assert.equal(vouchingForOthers.errorCode, 'IL_ERR_IDENTITY_ASSERTION_INVALID');
  });

  test('a TLS 1.2 client is refused by both listeners', async () => {
    const frontend = world.clusters.get('east')!.identities.get('frontend')!;
    for (const listener of [eastOut(), westIn()]) {
      const outcome = await tryHandshake({ ...listener, credentials: frontend, bundlePem: bundle(), maxVersion: 'TLSv1.2' });
      assert.equal(outcome.connected, false, `${listener.port} accepted TLS 1.2`);
    }
  });

  test('a certificate from a foreign CA is refused at the handshake and the refusal is audited', async () => {
    const outcome = await tryHandshake({ ...westIn(), credentials: await foreignCredentials(), bundlePem: bundle() });
    assert.equal(outcome.connected, false);
    await new Promise((r) => setTimeout(r, 100));
    const last = westAudit().filter((r) => r.type === 'connection.rejected').at(-1);
    assert.equal(last.data.reason, 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY');
  });

  test('an expired SVID is refused at the handshake', async () => {
    const ca = await world.controlPlane.stealClusterCa('east');
    const keys = await generateKeyPair();
    const twoHoursAgo = new Date(Date.now() - 2 * 3_600_000);
    const cert = await issueX509Svid(ca, { spiffeId: 'spiffe://east.acme.internal/ns/shop/sa/frontend', publicKey: keys.publicKey, ttlMs: 5 * 60_000, clock: fixedClock(twoHoursAgo) });
    const credentials = { certPem: certificatesToPem([cert, ca.cert]), keyPem: await exportPrivateKeyPem(keys.privateKey) };
    const outcome = await tryHandshake({ ...eastOut(), credentials, bundlePem: bundle() });
    assert.equal(outcome.connected, false);
    await new Promise((r) => setTimeout(r, 100));
    const eastAudit = readFileSync(world.clusters.get('east')!.gateway.auditPath, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    assert.equal(eastAudit.filter((r) => r.type === 'connection.rejected').at(-1).data.reason, 'CERT_HAS_EXPIRED');
  });

  test('a client with no certificate at all is refused', async () => {
    const outcome = await tryHandshake({ ...westIn(), bundlePem: bundle() });
    assert.equal(outcome.connected, false);
  });

  test('interlock check passes on the healthy pair, with a real handshake to each peer', async () => {
    const admins = [...world.clusters.values()].flatMap((c) => ['--gateway', `${c.gateway.admin.host}:${c.gateway.admin.port}`]);
    const result = await runCliAsync(['check', ...admins, '--json']);
    assert.equal(result.status, 0, result.stdout + result.stderr);
    const report = JSON.parse(result.stdout) as { ok: boolean; results: Array<{ name: string; ok: boolean }> };
    assert.deepEqual(report.results.filter((r) => r.name.startsWith('mTLS to')).map((r) => r.ok), [true, true]);
  });

  test("every gateway's audit chain verifies after all of the above", () => {
    for (const cluster of world.clusters.values()) {
      const result = verifyAuditLog(cluster.gateway.auditPath);
      assert.equal(result.ok, true, JSON.stringify(result));
    }
  });

  test('a workload of another cluster cannot use this cluster\'s outbound listener', async () => {
    const west = world.clusters.get('west')!;
    const agent = new https.Agent({ cert: west.identities.get('billing')!.certPem, key: west.identities.get('billing')!.keyPem, ca: bundle(), checkServerIdentity: () => undefined });
    agents.push(agent);
    const result = await callThroughGateway(agent, eastOut(), { ...billing, method: 'GET', path: '/x' });
    assert.equal(result.errorCode, 'IL_ERR_AUTHN_NOT_LOCAL');
    // billing's SVID used at east's gateway is an SVID in two clusters: the detector revokes it (as it should)
    // and billing attests again. That is why this test runs last: the tests before it need billing's first SVID.
  });
});
