import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { runCliAsync } from '../helpers/cli.ts';
import { join } from 'node:path';
import type https from 'node:https';
import { gatewaySpiffeId } from '../../src/identity/spiffe-id.ts';
import { startLab, type LabWorld } from '../../src/lab/world.ts';
import { callThroughGateway, createWorkloadAgent } from '../../src/lab/workload-client.ts';
import { verifyRecordChain } from '../../src/audit/verify-records.ts';
import type { AuditRecord } from '../../src/audit/record.ts';
import { tempDir } from '../helpers/pki.ts';

const local = (path: string): AuditRecord[] => readFileSync(path, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as AuditRecord);

describe('gateway audit chains shipped to the control plane', () => {
  let world: LabWorld;
  let agents: https.Agent[] = [];
  let auditor: { token: string };

  before(async () => {
    world = await startLab({ dir: join(tempDir('interlock-ship-'), 'lab') });
    auditor = await world.controlPlane.call<{ token: string }>('POST', '/v1/admins', { name: 'ana', roles: ['auditor'] });
  });
  after(async () => {
    agents.forEach((a) => a.destroy());
    await world?.close();
  });

  const stream = async (name: string): Promise<AuditRecord[]> => {
    const all: AuditRecord[] = [];
    for (;;) {
      const page = await world.controlPlane.call<AuditRecord[]>('GET', `/v1/audit/streams/${name}?after=${all.at(-1)?.seq ?? 0}&limit=1000`, undefined, { ...world.controlPlane.admin, token: auditor.token });
      all.push(...page);
      if (page.length < 1000) return all;
    }
  };
  /** Until the control plane holds everything the gateway wrote locally. */
  const caughtUp = async (name: string, path: string) => {
    for (let i = 0; i < 100; i++) {
      const [held, written] = [await stream(name), local(path)];
      if (held.length === written.length) return { held, written };
      await new Promise((r) => setTimeout(r, 100));
    }
    return { held: await stream(name), written: local(path) };
  };

  test('the control plane is killed during traffic and restarted: every decision reaches it exactly once, in order, and the chain verifies', async () => {
    const east = world.clusters.get('east')!;
    const west = world.clusters.get('west')!;
    const frontend = createWorkloadAgent(east.identities.get('frontend')!, gatewaySpiffeId(east.trustDomain));
    const reporting = createWorkloadAgent(east.identities.get('reporting')!, gatewaySpiffeId(east.trustDomain));
    agents = [frontend, reporting];
    let stop = false;
    const statuses: number[] = [];
    const odd: string[] = [];
    const loop = async (agent: https.Agent) => {
      while (!stop) {
        const result = await callThroughGateway(agent, east.gateway.outbound, { method: 'GET', host: 'billing.west.interlock', path: '/invoices/1' }).catch((error: Error) => ({ status: 0, errorCode: error.message }));
        statuses.push(result.status);
        if (result.status !== 200 && result.status !== 403) odd.push(`${result.status} ${result.errorCode}`);
      }
    };
    // Two allowed loops; a handful of denials on top (twenty would trip the deny-burst detector, which revokes).
    const traffic = [loop(frontend), loop(frontend)];
    for (let i = 0; i < 5; i++) statuses.push((await callThroughGateway(reporting, east.gateway.outbound, { method: 'GET', host: 'billing.west.interlock', path: '/invoices/1' })).status);
    await new Promise((r) => setTimeout(r, 700));
    await world.controlPlane.restart(); // SIGKILL, then a new process on the same store
    await new Promise((r) => setTimeout(r, 700));
    stop = true;
    await Promise.all(traffic);

    const { held, written } = await caughtUp('west', west.gateway.auditPath);
    const decisions = written.filter((r) => r.type === 'policy.decision');
    console.log(`# ${statuses.length} calls, ${decisions.length} decisions at west; control plane killed and restarted in the middle; ${held.length}/${written.length} west records held`);
    assert.ok(decisions.length >= 20, `only ${decisions.length} decisions`);
    assert.deepEqual(odd, [], 'every call answered by the west gateway, whatever the control plane did');
    assert.equal(decisions.length, statuses.length, 'one decision record per call');
    assert.deepEqual(held, written, 'the control plane holds exactly the gateway chain: nothing lost, nothing twice');
    assert.equal(verifyRecordChain(held).ok, true);
    const eastSide = await caughtUp('east', east.gateway.auditPath);
    assert.deepEqual(eastSide.held, eastSide.written);
  });

  test('auditors see one stream per gateway; a workload may not write one', async () => {
    const heads = await world.controlPlane.call<Array<{ stream: string; seq: number }>>('GET', '/v1/audit/streams', undefined, { ...world.controlPlane.admin, token: auditor.token });
    assert.deepEqual(heads.map((h) => h.stream).sort(), ['east', 'west']);
    const tokenFile = join(world.dir, 'auditor.token');
    writeFileSync(tokenFile, auditor.token + '\n', { mode: 0o600 });
    const verified = await runCliAsync(['audit', 'verify-server', '--server', world.controlPlane.url, '--ca-file', world.controlPlane.bundleFile, '--token-file', tokenFile]);
    assert.equal(verified.status, 0, verified.stderr);
    assert.match(verified.stdout, /^ok +control plane: \d+ records/m);
    assert.match(verified.stdout, /^ok +gateway stream east: \d+ records/m);
    assert.match(verified.stdout, /^ok +gateway stream west: \d+ records/m);
    const billing = world.clusters.get('west')!.identities.get('billing')!;
    const asWorkload = { server: world.controlPlane.url, bundlePem: billing.bundlePem, certPem: billing.certPem, keyPem: billing.keyPem };
    await assert.rejects(world.controlPlane.call('POST', '/v1/audit/streams/west/records', { records: local(world.clusters.get('west')!.gateway.auditPath).slice(0, 1) }, asWorkload), (error: Error & { code?: string }) => error.code === 'IL_ERR_AUTHN_NOT_A_GATEWAY');
  });

  test('signed checkpoints, a portable export that verifies offline, and queries across the chains', async () => {
    const tokenFile = join(world.dir, 'auditor.token');
    const cli = (...args: string[]) => runCliAsync([...args, '--server', world.controlPlane.url, '--ca-file', world.controlPlane.bundleFile, '--token-file', tokenFile]);
    const signed = await world.controlPlane.call<Array<{ stream: string; seq: number }>>('POST', '/v1/audit/checkpoints', {}, { ...world.controlPlane.admin, token: auditor.token });
    assert.deepEqual(signed.map((c) => c.stream).sort(), ['control-plane', 'east', 'west']);
    const verified = await cli('audit', 'verify-server');
    assert.equal(verified.status, 0, verified.stderr);
    assert.match(verified.stdout, /gateway stream west: \d+ records, head \w+…; checkpoint #\d+ of \S+ holds/);

    const file = join(world.dir, 'west-export.json');
    const exported = await cli('audit', 'export', '--stream', 'west', '--out', file);
    assert.equal(exported.status, 0, exported.stderr);
    const offline = await runCliAsync(['audit', 'verify-export', file, '--ca-file', world.controlPlane.bundleFile]);
    assert.equal(offline.status, 0, offline.stderr);
    assert.match(offline.stdout, /^ok .* records of west up to #\d+, checkpoint signed/);
    const bundle = JSON.parse(readFileSync(file, 'utf8')) as { records: Array<{ data: Record<string, unknown> }> };
    bundle.records.pop(); // drop the last record: the head no longer matches the checkpoint
    writeFileSync(file, JSON.stringify(bundle));
    const cut = await runCliAsync(['audit', 'verify-export', file, '--ca-file', world.controlPlane.bundleFile]);
    assert.equal(cut.status, 1);
    assert.match(cut.stderr, /IL_ERR_AUDIT_CHAIN_BROKEN: the excerpt ends at record/);

    const denials = await cli('audit', 'query', '--stream', 'west', '--decision', 'deny', '--json');
    assert.equal(denials.status, 0, denials.stderr);
    const rows = JSON.parse(denials.stdout) as Array<{ type: string; data: { principal: string } }>;
    assert.equal(rows.length, 5);
    assert.ok(rows.every((r) => r.type === 'policy.decision' && r.data.principal === 'spiffe://east.acme.internal/ns/analytics/sa/reporting'));
    const traceId = (rows[0]!.data as unknown as { traceId: string }).traceId;
    const traced = await cli('audit', 'query', '--trace-id', traceId, '--json');
    // The decision (west) is recorded before the caller's gateway records the answered call (east).
    assert.deepEqual((JSON.parse(traced.stdout) as Array<{ stream: string; type: string }>).map((r) => `${r.stream} ${r.type}`), ['west policy.decision', 'east call.outbound']);
  });
});
