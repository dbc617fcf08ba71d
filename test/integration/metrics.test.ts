import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import type https from 'node:https';
import { gatewaySpiffeId } from '../../src/identity/spiffe-id.ts';
import { startLab, type LabWorld } from '../../src/lab/world.ts';
import { callThroughGateway, createWorkloadAgent } from '../../src/lab/workload-client.ts';
import { foreignCredentials, tryHandshake } from '../../src/lab/attackers.ts';
import { tempDir } from '../helpers/pki.ts';
import { lintExposition } from '../helpers/metrics-lint.ts';

function scrape(address: { host: string; port: number }): Promise<{ status: number; type: string; text: string }> {
  return new Promise((resolve, reject) => {
    http
      .get({ ...address, path: '/metrics' }, (res) => {
        let text = '';
        res.setEncoding('utf8').on('data', (c: string) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type']), text }));
      })
      .on('error', reject);
  });
}

/** The value of one series, by exact name and labels that must all match. */
function valueOf(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (!Object.entries(labels).every(([k, v]) => line.includes(`{${k}="${v}"`) || line.includes(`,${k}="${v}"`))) continue;
    return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return undefined;
}

describe('Prometheus metrics', () => {
  let world: LabWorld;
  let agents: https.Agent[] = [];

  before(async () => {
    world = await startLab({ dir: join(tempDir('interlock-metrics-'), 'lab') });
    const east = world.clusters.get('east')!;
    const frontend = createWorkloadAgent(east.identities.get('frontend')!, gatewaySpiffeId(east.trustDomain));
    const reporting = createWorkloadAgent(east.identities.get('reporting')!, gatewaySpiffeId(east.trustDomain));
    agents = [frontend, reporting];
    for (let i = 0; i < 5; i++) assert.equal((await callThroughGateway(frontend, east.gateway.outbound, { method: 'GET', host: 'billing.west.interlock', path: `/invoices/${i}` })).status, 200);
    for (let i = 0; i < 3; i++) assert.equal((await callThroughGateway(reporting, east.gateway.outbound, { method: 'GET', host: 'billing.west.interlock', path: '/invoices/1' })).status, 403);
    await tryHandshake({ ...world.clusters.get('west')!.gateway.inbound, credentials: await foreignCredentials(), bundlePem: east.identities.get('frontend')!.bundlePem });
  });
  after(async () => {
    agents.forEach((a) => a.destroy());
    await world?.close();
  });

  test('the west gateway counts decisions by peer cluster, identity and code, times them, and counts refused handshakes', async () => {
    const { status, type, text } = await scrape(world.clusters.get('west')!.gateway.admin);
    assert.equal(status, 200);
    assert.match(type, /^text\/plain; version=0\.0\.4/);
    const frontend = 'spiffe://east.acme.internal/ns/shop/sa/frontend';
    const reporting = 'spiffe://east.acme.internal/ns/analytics/sa/reporting';
    assert.equal(valueOf(text, 'interlock_gateway_requests_total', { direction: 'inbound', peer_cluster: 'east', identity: frontend, decision: 'allow' }), 5);
    assert.equal(valueOf(text, 'interlock_gateway_requests_total', { direction: 'inbound', identity: reporting, decision: 'deny', code: 'IL_ERR_POLICY_DENIED' }), 3);
    assert.equal(valueOf(text, 'interlock_gateway_request_duration_seconds_count', { direction: 'inbound', decision: 'allow' }), 5);
    assert.equal(valueOf(text, 'interlock_policy_evaluation_duration_seconds_count'), 8);
    assert.equal(valueOf(text, 'interlock_gateway_handshake_failures_total', { listener: 'inbound', reason: 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY' }), 1);
    assert.equal(valueOf(text, 'interlock_policy_cache_hits_total')! + valueOf(text, 'interlock_policy_cache_misses_total')!, 8);
    assert.ok(valueOf(text, 'interlock_certificate_expiry_seconds', { certificate: 'gateway_svid' })! > 0);
    assert.ok(valueOf(text, 'interlock_policy_bundle_expiry_seconds')! > 0);
    assert.equal(valueOf(text, 'interlock_gateway_expiry_alerts'), 0);
  });

  test('the east gateway counts outbound calls by destination cluster', async () => {
    const { text } = await scrape(world.clusters.get('east')!.gateway.admin);
    // Outbound "allow" means forwarded: the remote answer (403 for reporting) is the peer's decision.
    assert.equal(valueOf(text, 'interlock_gateway_requests_total', { direction: 'outbound', peer_cluster: 'west', decision: 'allow' }), 5);
    assert.ok(valueOf(text, 'interlock_gateway_connections_total', { listener: 'outbound' })! >= 2);
  });

  test('the control plane exports issuance, events and CA expiry', async () => {
    const { text } = await scrape(world.controlPlane.metrics);
    assert.ok(valueOf(text, 'interlock_svids_issued_total', { method: 'k8s-sat' })! >= 3);
    assert.ok(valueOf(text, 'interlock_ca_expiry_seconds', { kind: 'cluster', cluster: 'east' })! > 0);
    assert.ok(valueOf(text, 'interlock_watch_streams')! >= 2, 'both gateways hold a watch stream');
    assert.ok(valueOf(text, 'interlock_api_requests_total', { route: '/v1/attest/k8s', status_class: '2xx' })! >= 3);
  });

  test('every exposition follows the Prometheus conventions (promtool check metrics, and our own lint)', async () => {
    for (const address of [world.clusters.get('west')!.gateway.admin, world.clusters.get('east')!.gateway.admin, world.controlPlane.metrics]) {
      const { text } = await scrape(address);
      assert.deepEqual(lintExposition(text), []);
      const promtool = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
      if (promtool.error && (promtool.error as NodeJS.ErrnoException).code === 'ENOENT') {
        // .ci/run installs it (Debian package prometheus); a machine without it still gets the lint above.
        console.log('# promtool not installed: checked with the built-in lint only');
        continue;
      }
      assert.equal(promtool.status, 0, promtool.stdout + promtool.stderr);
    }
  });
});
