import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http, { type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { readFileSync, writeFileSync } from 'node:fs';
import Database from 'better-sqlite3';
import { apiRequest, type ApiConnection } from '../../src/client/api.ts';
import { createCsr } from '../../src/pki/csr.ts';
import { exportPrivateKeyPem, generateKeyPair } from '../../src/pki/x509.ts';
import { gatewaySpiffeId } from '../../src/identity/spiffe-id.ts';
import { nextRecord, type AuditRecord } from '../../src/audit/record.ts';
import { generateKeyFileContent, resolveKeySecret } from '../../src/pki/key-protection.ts';
import { serverConfigSchema } from '../../src/server/config.ts';
import { startControlPlane, type RunningServer } from '../../src/server/server.ts';
import { bundlePemFromStore } from '../../src/server/ca-service.ts';
import { silentLogger } from '../../src/telemetry/logger.ts';
import type { AlertView } from '../../src/server/alert-views.ts';
import { tempDir } from '../helpers/pki.ts';

interface Delivery {
  readonly body: { status: string; alerts: Array<{ status: string; labels: Record<string, string>; startsAt: string; endsAt: string }> };
  readonly headers: IncomingHttpHeaders;
}

/** A webhook receiver on loopback that answers 200, 500, or never, as the test says. */
async function startReceiver() {
  const state = { mode: 'ok' as 'ok' | 'fail' | 'hang', attempts: 0, received: [] as Delivery[], hung: [] as ServerResponse[] };
  const server = http.createServer((req, res) => {
    let text = '';
    req.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
    req.on('end', () => {
      state.attempts++;
      if (state.mode === 'hang') return void state.hung.push(res);
      if (state.mode === 'fail') return void res.writeHead(500).end('down');
      state.received.push({ body: JSON.parse(text) as Delivery['body'], headers: req.headers });
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    state,
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks/s3cret-path`,
    close: () => {
      server.closeAllConnections();
      server.close();
    },
  };
}

async function until<T>(what: string, probe: () => Promise<T | undefined> | T | undefined): Promise<T> {
  for (let i = 0; i < 400; i++) {
    const found = await probe();
    if (found !== undefined) return found;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.fail(`gave up waiting for ${what}`);
}

describe('alerting: rules evaluated by a real control plane, a webhook on loopback', () => {
  let cp: RunningServer;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  let admin: ApiConnection;
  let gateway: ApiConnection;
  let dbPath: string;
  // The control plane's clock, which the test moves forward to let a window pass.
  let offset = 0;
  const clock = { now: () => new Date(Date.now() + offset) };
  const chain: AuditRecord[] = [];

  before(async () => {
    receiver = await startReceiver();
    const dir = tempDir('interlock-alerting-');
    const keyFile = join(dir, 'ca.key');
    writeFileSync(keyFile, generateKeyFileContent(), { mode: 0o600 });
    dbPath = join(dir, 'interlock.db');
    const config = serverConfigSchema.parse({
      listen: '127.0.0.1:0',
      organization: 'Acme',
      domain: 'acme.internal',
      alerts: {
        intervalMs: 200,
        resolveDelayMs: 0,
        unauthorizedAttempts: { threshold: 3, windowMs: 60_000, warmupMs: 0 },
        webhook: { url: receiver.url, timeoutMs: 300, retries: 1, backoffMs: 20, headers: { authorization: 'Bearer hook-token' } },
      },
    });
    cp = await startControlPlane(config, { log: silentLogger(), secret: resolveKeySecret({ keyFile }), storeSpec: `sqlite:${dbPath}`, bootstrapAdminTokenFile: join(dir, 'admin.token'), clock });
    const anonymous: ApiConnection = { server: cp.url, bundlePem: await bundlePemFromStore(cp.store), serverId: cp.spiffeId };
    admin = { ...anonymous, token: readFileSync(join(dir, 'admin.token'), 'utf8').trim() };
    // A gateway of cluster east, attested as gateways are.
    await apiRequest(admin, 'POST', '/v1/clusters', { name: 'east' });
    const entry = (await apiRequest<{ id: string }>(admin, 'POST', '/v1/entries', { cluster: 'east', spiffeId: gatewaySpiffeId('east.acme.internal'), gateway: true })).body;
    const { token } = (await apiRequest<{ token: string }>(admin, 'POST', '/v1/join-tokens', { entryId: entry.id })).body;
    const keys = await generateKeyPair();
    const { body } = await apiRequest<{ certChainPem: string }>(anonymous, 'POST', '/v1/attest/join-token', { token, csr: await createCsr(keys) });
    gateway = { ...anonymous, certPem: body.certChainPem, keyPem: await exportPrivateKeyPem(keys.privateKey) };
  });
  after(async () => {
    await cp?.close();
    receiver?.close();
  });

  /** Policy decisions appended to east's chain and shipped the way the gateway's audit shipper does. */
  async function ship(decisions: Array<'allow' | 'deny'>): Promise<void> {
    const fresh = decisions.map((decision) => {
      const record = nextRecord(chain.at(-1), { type: 'policy.decision', actor: 'spiffe://west.acme.internal/ns/interlock-system/sa/interlock-gateway', data: { principal: 'spiffe://west.acme.internal/ns/scan/sa/probe', resource: 'east/billing', decision } }, clock);
      chain.push(record);
      return record;
    });
    await apiRequest(gateway, 'POST', '/v1/audit/streams/east/records', { records: fresh });
  }
  const alerts = async () => (await apiRequest<AlertView[]>(admin, 'GET', '/v1/alerts')).body;
  const find = async (key: string, status: AlertView['status'], since = '') => (await alerts()).find((a) => a.key === key && a.status === status && a.firstSeen > since);
  const delivered = (key: string, status: string, startsAt: string) => receiver.state.received.find((d) => d.body.status === status && d.body.alerts[0]!.labels.key === key && d.body.alerts[0]!.startsAt === startsAt);

  test('denials shipped by a gateway fire unauthorized-attempts once; it resolves when they stop; the webhook gets firing, then resolved', async () => {
    await ship(['deny', 'allow', 'deny', 'deny', 'deny', 'deny']);
    const firing = await until('the alert to fire', () => find('unauthorized-attempts:east', 'firing'));
    assert.equal(firing.source, 'rule');
    assert.equal(firing.rule, 'unauthorized-attempts');
    assert.equal(firing.cluster, 'east');
    assert.equal(firing.details.count, 5, 'the five denials, not the allow');
    assert.equal(firing.resolvedAt, null);
    assert.match(firing.summary, /5 requests denied by policy at the gateway of east/);

    const fired = await until('the firing notification', () => delivered(firing.key, 'firing', firing.firstSeen));
    assert.equal(fired.body.alerts[0]!.labels.alertname, 'unauthorized-attempts');
    assert.equal(fired.body.alerts[0]!.endsAt, '0001-01-01T00:00:00Z');
    assert.equal(fired.headers.authorization, 'Bearer hook-token', 'configured headers are sent');

    // More denials while it fires: the same alert, counting them, not a second one.
    await ship(['deny', 'deny', 'deny']);
    const updated = await until('the alert to count the new denials', async () => ((await find(firing.key, 'firing'))?.details.count === 8 ? find(firing.key, 'firing') : undefined));
    assert.equal(updated.firstSeen, firing.firstSeen);
    assert.equal((await alerts()).filter((a) => a.key === firing.key).length, 1);

    offset += 2 * 60_000; // the window passes with no more denials
    const resolved = await until('the alert to resolve', () => find(firing.key, 'resolved'));
    assert.equal(resolved.firstSeen, firing.firstSeen);
    assert.ok(resolved.resolvedAt! > firing.firstSeen);
    const note = await until('the resolved notification', () => delivered(firing.key, 'resolved', firing.firstSeen));
    assert.equal(note.body.alerts[0]!.endsAt, resolved.resolvedAt);
    assert.ok(receiver.state.received.indexOf(fired) < receiver.state.received.indexOf(note), 'firing, then resolved');
    assert.deepEqual(await apiRequest<AlertView[]>(admin, 'GET', '/v1/alerts?status=firing').then((r) => r.body.filter((a) => a.key === firing.key)), []);

    const audit = (await apiRequest<AuditRecord[]>(admin, 'GET', '/v1/audit/query?stream=control-plane&type=alert.fired')).body;
    assert.ok(audit.some((r) => r.data.key === firing.key && r.data.rule === 'unauthorized-attempts'), 'alert.fired is in the audit chain');
    assert.ok((await apiRequest<AuditRecord[]>(admin, 'GET', '/v1/audit/query?stream=control-plane&type=alert.resolved')).body.some((r) => r.data.key === firing.key));
  });

  test('a webhook answering 500, then not at all, stops neither evaluation nor delivery: nothing is lost', async () => {
    const before = new Date(Date.now() + offset - 1).toISOString();
    receiver.state.mode = 'fail';
    await ship(['deny', 'deny', 'deny', 'deny']);
    const firing = await until('the alert to fire while the webhook fails', () => find('unauthorized-attempts:east', 'firing', before));
    const attempts = receiver.state.attempts;
    await until('the webhook to be retried', () => (receiver.state.attempts >= attempts + 2 ? true : undefined));
    assert.equal(delivered(firing.key, 'firing', firing.firstSeen), undefined);

    receiver.state.mode = 'hang';
    offset += 2 * 60_000;
    const resolved = await until('the alert to resolve while the webhook hangs', () => find(firing.key, 'resolved', before));
    assert.equal(resolved.firstSeen, firing.firstSeen);

    receiver.state.mode = 'ok';
    const fired = await until('the held firing notification', () => delivered(firing.key, 'firing', firing.firstSeen));
    const closed = await until('the held resolved notification', () => delivered(firing.key, 'resolved', firing.firstSeen));
    assert.ok(receiver.state.received.indexOf(fired) < receiver.state.received.indexOf(closed), 'in the order they happened');
    receiver.state.hung.forEach((res) => res.destroy());
  });

  test("an operator's CA rotation raises nothing; a CA that no rotation made is critical until it is retired", async () => {
    const rotation = (await apiRequest<{ pairs: Array<{ next: string }> }>(admin, 'POST', '/v1/ca/rotations/east')).body;
    const east = (await cp.store.listAuthorities({ cluster: 'east' })).find((a) => a.serial === rotation.pairs[0]!.next)!;
    // Someone with write access to the store adds a CA of their own (the certificate is a copy: only the row matters here).
    await cp.store.putAuthority({ ...east, serial: '7e57c0ffee', status: 'published', createdAt: clock.now().toISOString() });
    const rogue = await until('the rogue CA alert', () => find('rotation-burst:ca:7e57c0ffee', 'firing'));
    assert.equal(rogue.severity, 'critical');
    assert.equal(rogue.cluster, 'east');
    assert.deepEqual((await alerts()).filter((a) => a.rule === 'rotation-burst' && a.key !== rogue.key), [], 'the rotation itself is accounted for');
    await cp.store.setAuthorityStatus('7e57c0ffee', 'retired');
    await until('the rogue CA alert to resolve', () => find(rogue.key, 'resolved'));
  });

  test('an altered audit record fails audit-verification at once; restoring it resolves the alert', async () => {
    const head = chain.at(-1)!;
    const db = new Database(dbPath);
    // Someone with write access to the database: the append-only triggers are no obstacle to them.
    const triggers = db.prepare("SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'gateway_audit'").all() as Array<{ name: string; sql: string }>;
    for (const t of triggers) db.exec(`DROP TRIGGER ${t.name}`);
    try {
      const original = (db.prepare('SELECT record FROM gateway_audit WHERE stream = ? AND seq = ?').get('east', head.seq) as { record: string }).record;
      const altered = JSON.stringify({ ...head, data: { ...head.data, decision: 'allow' } }); // the stored hash left as it was
      db.prepare('UPDATE gateway_audit SET record = ? WHERE stream = ? AND seq = ?').run(altered, 'east', head.seq);
      const broken = await until('the audit alert', () => find('audit-verification-failed:east', 'firing'));
      assert.equal(broken.severity, 'critical');
      assert.equal(broken.details.seq, head.seq);
      assert.match(broken.summary, /does not verify/);
      db.prepare('UPDATE gateway_audit SET record = ? WHERE stream = ? AND seq = ?').run(original, 'east', head.seq);
      await until('the audit alert to resolve', () => find('audit-verification-failed:east', 'resolved'));
    } finally {
      for (const t of triggers) db.exec(t.sql);
      db.close();
    }
  });
});
