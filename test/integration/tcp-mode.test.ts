import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import tls from 'node:tls';
import { readFileSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { gatewaySpiffeId } from '../../src/identity/spiffe-id.ts';
import { gatewayConfigSchema } from '../../src/gateway/config.ts';
import { startGateway, type RunningGateway } from '../../src/gateway/gateway.ts';
import { silentLogger } from '../../src/telemetry/logger.ts';
import { freePort } from '../../src/lab/free-port.ts';
import { makePki, makeSvid, tempDir } from '../helpers/pki.ts';

const FRONTEND = 'spiffe://east.acme.internal/ns/shop/sa/frontend';
const REPORTING = 'spiffe://east.acme.internal/ns/analytics/sa/reporting';
const POLICY = `@id("frontend-connects-to-db")
permit (principal == Interlock::Workload::"${FRONTEND}", action == Interlock::Action::"call", resource == Interlock::Service::"west/db")
when { context.method == "CONNECT" };`;

/** A TCP service that answers each chunk with "echo:" + the chunk. */
function startEcho(): Promise<{ port: number; close(): void }> {
  const server = net.createServer((socket) => socket.on('data', (chunk) => socket.write(Buffer.concat([Buffer.from('echo:'), chunk]))));
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ port: (server.address() as AddressInfo).port, close: () => server.close() })));
}

describe('L4 mode: opaque TCP between clusters, policy per connection', () => {
  let dir: string;
  let east: RunningGateway;
  let west: RunningGateway;
  let echo: { port: number; close(): void };
  let workloads: Record<string, { certPem: string; keyPem: string }>;
  let bundlePem: string;

  before(async () => {
    dir = tempDir('interlock-tcp-');
    const pki = await makePki();
    bundlePem = pki.root.cert.toString('pem') + '\n';
    writeFileSync(join(dir, 'bundle.pem'), bundlePem);
    writeFileSync(join(dir, 'policy.cedar'), POLICY);
    for (const [name, ca, id] of [['east-gw', pki.east, gatewaySpiffeId('east.acme.internal')], ['west-gw', pki.west, gatewaySpiffeId('west.acme.internal')]] as const) {
      const svid = await makeSvid(ca, id);
      writeFileSync(join(dir, `${name}.pem`), svid.certPem);
      writeFileSync(join(dir, `${name}.key`), svid.keyPem, { mode: 0o600 });
    }
    workloads = { frontend: await makeSvid(pki.east, FRONTEND), reporting: await makeSvid(pki.east, REPORTING) };
    echo = await startEcho();
    const [westIn, westTcp] = [await freePort(), await freePort()];
    const config = (cluster: 'east' | 'west', extra: Record<string, unknown>) =>
      gatewayConfigSchema.parse({
        cluster,
        trustDomain: `${cluster}.acme.internal`,
        identity: { cert: join(dir, `${cluster}-gw.pem`), key: join(dir, `${cluster}-gw.key`), bundle: join(dir, 'bundle.pem') },
        policy: { file: join(dir, 'policy.cedar') },
        audit: { file: join(dir, `${cluster}.audit.jsonl`) },
        ...extra,
      });
    west = await startGateway(
      config('west', {
        inbound: { listen: `127.0.0.1:${westIn}`, tcpListen: `127.0.0.1:${westTcp}` },
        outbound: { listen: '127.0.0.1:0' },
        peers: { east: { address: '127.0.0.1:1', trustDomain: 'east.acme.internal' } },
        services: { db: { upstream: `tcp://127.0.0.1:${echo.port}` } },
      }),
      { log: silentLogger() },
    );
    east = await startGateway(
      config('east', {
        inbound: { listen: '127.0.0.1:0' },
        outbound: { listen: '127.0.0.1:0', tcpListen: '127.0.0.1:0' },
        peers: { west: { address: `127.0.0.1:${westIn}`, tcpAddress: `127.0.0.1:${westTcp}`, trustDomain: 'west.acme.internal' } },
      }),
      { log: silentLogger() },
    );
  });
  after(async () => {
    await east?.close();
    await west?.close();
    echo?.close();
  });

  /** Opens a tunnel as a workload (SNI names the target), sends `message`, returns what came back before the tunnel closed or `waitMs` passed. */
  function tunnel(workload: string, servername: string, message: string, waitMs = 1_500): Promise<{ connected: boolean; answer: string }> {
    const { host, port } = { host: '127.0.0.1', port: Number(east.outboundTcp!.split(':')[1]) };
    return new Promise((resolve) => {
      let answer = '';
      let connected = false;
      const socket = tls.connect({ host, port, servername, cert: workloads[workload]!.certPem, key: workloads[workload]!.keyPem, ca: bundlePem, checkServerIdentity: () => undefined, minVersion: 'TLSv1.3' }, () => {
        connected = true;
        socket.write(message);
      });
      socket.on('data', (chunk: Buffer) => {
        answer += chunk.toString('utf8');
        if (answer.length >= message.length + 5) socket.end();
      });
      const finish = () => resolve({ connected, answer });
      socket.once('close', finish);
      socket.once('error', () => undefined);
      setTimeout(() => socket.destroy(), waitMs);
    });
  }

  test('an allowed workload reaches the TCP service through both gateways; bytes flow both ways untouched', async () => {
    const result = await tunnel('frontend', 'db.west.interlock', 'SELECT 1;');
    assert.equal(result.answer, 'echo:SELECT 1;');
  });

  test('a workload without a policy is cut off before any byte reaches the service, and both sides audit the connection', async () => {
    const result = await tunnel('reporting', 'db.west.interlock', 'DROP TABLE x;');
    assert.equal(result.answer, '');
    const westAudit = readFileSync(join(dir, 'west.audit.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { type: string; data: Record<string, unknown> });
    const decisions = westAudit.filter((r) => r.type === 'policy.decision' && r.data.protocol === 'tcp');
    assert.deepEqual(decisions.map((r) => [r.data.principal, r.data.decision]), [[FRONTEND, 'allow'], [REPORTING, 'deny']]);
    assert.equal(decisions[0]!.data.bytesIn, 'SELECT 1;'.length);
    const eastAudit = readFileSync(join(dir, 'east.audit.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { type: string; data: Record<string, unknown> });
    assert.deepEqual(eastAudit.filter((r) => r.type === 'connection.outbound').map((r) => r.data.outcome), ['allow', 'deny']);
  });

  test('an unknown target or a peer without an L4 route is refused at the calling gateway', async () => {
    assert.equal((await tunnel('frontend', 'db.north.interlock', 'x')).answer, '');
    assert.equal((await tunnel('frontend', 'not-a-target', 'x')).answer, '');
  });
});
