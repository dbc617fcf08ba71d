import { existsSync, readFileSync } from 'node:fs';
import { toInterlockError } from '../errors.ts';
import { apiRequest } from '../client/api.ts';
import { createCsr } from '../pki/csr.ts';
import { generateKeyPair } from '../pki/x509.ts';
import { createFakeApiServer } from './fake-kubernetes.ts';
import type https from 'node:https';
import { gatewaySpiffeId } from '../identity/spiffe-id.ts';
import { IDENTITY_HEADER } from '../gateway/identity-assertion.ts';
import { foreignCredentials, forgedCrossDomainCredentials, tryHandshake, type HandshakeOutcome } from './attackers.ts';
import { callThroughGateway, createWorkloadAgent, type CallRequest, type CallResult } from './workload-client.ts';
import type { LabCluster, LabWorld } from './world.ts';

export type Expectation = 'allow' | 'deny' | 'handshake-refused';

export interface ScenarioResult {
  readonly n: number;
  readonly title: string;
  readonly caller: string;
  readonly target: string;
  readonly request: string;
  readonly expected: Expectation;
  readonly outcome: Expectation | 'error';
  readonly status?: number;
  readonly code?: string;
  readonly detail: string;
  readonly auditRef?: string;
  readonly ms: number;
  readonly ok: boolean;
}

interface Scenario {
  readonly title: string;
  readonly caller: string;
  readonly target: string;
  readonly request: string;
  readonly expected: Expectation;
  /** For handshake probes: the gateway whose audit log records the refusal. */
  readonly probed?: LabCluster;
  run(): Promise<CallResult | HandshakeOutcome>;
}

interface Rejection {
  readonly seq: number;
  readonly reason: string;
}

/** The gateway's own record of a refused handshake: its reason is more precise than what the client sees. */
function rejectionsIn(auditPath: string): Rejection[] {
  if (!existsSync(auditPath)) return [];
  return readFileSync(auditPath, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as { seq: number; type: string; data: { reason?: string } })
    .filter((r) => r.type === 'connection.rejected')
    .map((r) => ({ seq: r.seq, reason: String(r.data.reason) }));
}

async function newRejection(cluster: LabCluster, seenBefore: number): Promise<Rejection | undefined> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const found = rejectionsIn(cluster.gateway.auditPath).filter((r) => r.seq > seenBefore).at(-1);
    if (found) return found;
    await new Promise((r) => setTimeout(r, 25));
  }
  return undefined;
}

/** An attestation attempt, reported like a call: 201 or the refusal's status and code. */
async function tryAttestation(cp: LabWorld['controlPlane'], path: string, body: Record<string, unknown>): Promise<CallResult> {
  const started = performance.now();
  const csr = await createCsr(await generateKeyPair());
  try {
    const issued = await apiRequest<{ spiffeId: string }>({ server: cp.url, bundlePem: cp.bundlePem, serverId: cp.spiffeId }, 'POST', path, { ...body, csr });
    return { status: issued.status, body: JSON.stringify({ caller: issued.body.spiffeId }), reusedConnection: false, ms: performance.now() - started };
  } catch (error) {
    const failure = toInterlockError(error);
    return { status: failure.status, errorCode: failure.code, body: JSON.stringify({ error: failure.toJSON() }), reusedConnection: false, ms: performance.now() - started };
  }
}

function describeCall(result: CallResult): { outcome: Expectation; detail: string } {
  if (result.status === 200 || result.status === 201) {
    const body = JSON.parse(result.body) as { caller?: string; bytesReceived?: number };
    const reuse = result.reusedConnection ? ' over a reused keep-alive connection' : '';
    return { outcome: 'allow', detail: `billing answered; it saw caller ${body.caller ?? '?'}${reuse}` };
  }
  const message = (() => {
    try {
      return (JSON.parse(result.body) as { error?: { message?: string } }).error?.message ?? '';
    } catch {
      return result.body.slice(0, 80);
    }
  })();
  return { outcome: 'deny', detail: message };
}

function cluster(world: LabWorld, name: string): LabCluster {
  const found = world.clusters.get(name);
  if (!found) throw new Error(`lab has no cluster ${name}`);
  return found;
}

export async function buildScenarios(world: LabWorld): Promise<{ scenarios: Scenario[]; agents: https.Agent[] }> {
  const east = cluster(world, 'east');
  const west = cluster(world, 'west');
  const agents: https.Agent[] = [];
  const workload = (c: LabCluster, name: string) => {
    const identity = c.identities.get(name)!;
    const agent = createWorkloadAgent(identity, gatewaySpiffeId(c.trustDomain));
    agents.push(agent);
    return { id: identity.spiffeId.id, agent };
  };
  const frontend = workload(east, 'frontend');
  const reporting = workload(east, 'reporting');
  const billing = workload(west, 'billing');
  const via = (c: LabCluster, agent: https.Agent, request: CallRequest) => () => callThroughGateway(agent, c.gateway.outbound, request);
  const bundlePem = east.identities.get('frontend')!.bundlePem;
  const foreign = await foreignCredentials();
  const cp = world.controlPlane;
  const strangerApi = await createFakeApiServer('east');
  const forged = await forgedCrossDomainCredentials(await world.controlPlane.stealClusterCa('east'), `spiffe://${west.trustDomain}/ns/billing/sa/billing`);

  const scenarios: Scenario[] = [
    { title: 'allowed read', caller: frontend.id, target: 'billing.west', request: 'GET /invoices/42', expected: 'allow', run: via(east, frontend.agent, { method: 'GET', host: 'billing.west.interlock', path: '/invoices/42' }) },
    { title: 'allowed read, same connection', caller: frontend.id, target: 'billing.west', request: 'GET /invoices/43', expected: 'allow', run: via(east, frontend.agent, { method: 'GET', host: 'billing.west.interlock', path: '/invoices/43' }) },
    { title: 'write not in policy', caller: frontend.id, target: 'billing.west', request: 'POST /invoices (streamed)', expected: 'deny', run: via(east, frontend.agent, { method: 'POST', host: 'billing.west.interlock', path: '/invoices', bodyChunks: ['{"amount":', '100,', '"currency":"EUR"}'] }) },
    { title: 'workload without a policy', caller: reporting.id, target: 'billing.west', request: 'GET /invoices/42', expected: 'deny', run: via(east, reporting.agent, { method: 'GET', host: 'billing.west.interlock', path: '/invoices/42' }) },
    {
      title: 'spoofed identity header',
      caller: reporting.id,
      target: 'billing.west',
      request: 'GET /invoices/42 + forged header',
      expected: 'deny',
      run: via(east, reporting.agent, { method: 'GET', host: 'billing.west.interlock', path: '/invoices/42', headers: { [IDENTITY_HEADER]: 'forged-claims-to-be-frontend', 'interlock-caller': frontend.id } }),
    },
    { title: 'reverse direction, no policy', caller: billing.id, target: 'catalog.east', request: 'GET /items', expected: 'deny', run: via(west, billing.agent, { method: 'GET', host: 'catalog.east.interlock', path: '/items' }) },
    { title: 'certificate from a foreign CA', caller: 'spiffe://evil.example/ns/interlock-system/sa/interlock-gateway', target: 'west gateway inbound', request: 'TLS 1.3', expected: 'handshake-refused', probed: west, run: () => tryHandshake({ ...west.gateway.inbound, credentials: foreign, bundlePem }) },
    {
      title: "west identity forged by east's CA",
      caller: `spiffe://${west.trustDomain}/ns/billing/sa/billing`,
      target: 'west gateway outbound',
      request: 'TLS 1.3',
      expected: 'handshake-refused',
      probed: west,
      run: () => tryHandshake({ ...west.gateway.outbound, credentials: forged, bundlePem }),
    },
    {
      title: 'join token used a second time',
      caller: 'anyone holding the spent token',
      target: 'control plane',
      request: 'POST /v1/attest/join-token',
      expected: 'deny',
      run: () => tryAttestation(cp, '/v1/attest/join-token', { token: readFileSync(east.gateway.joinTokenFile!, 'utf8').trim() }),
    },
    {
      title: 'Kubernetes token, wrong signer',
      caller: 'east/ns/shop/sa/frontend (forged)',
      target: 'control plane',
      request: 'POST /v1/attest/k8s',
      expected: 'deny',
      run: async () => tryAttestation(cp, '/v1/attest/k8s', { cluster: 'east', token: await strangerApi.mintToken('shop', 'frontend') }),
    },
    { title: 'TLS 1.2 client', caller: frontend.id, target: 'east gateway outbound', request: 'TLS 1.2', expected: 'handshake-refused', probed: east, run: () => tryHandshake({ ...east.gateway.outbound, credentials: east.identities.get('frontend')!, bundlePem, maxVersion: 'TLSv1.2' }) },
  ];
  return { scenarios, agents };
}

export async function runScenarios(world: LabWorld): Promise<ScenarioResult[]> {
  const { scenarios, agents } = await buildScenarios(world);
  const results: ScenarioResult[] = [];
  try {
    for (const [index, scenario] of scenarios.entries()) {
      const started = performance.now();
      let outcome: ScenarioResult['outcome'] = 'error';
      let detail = '';
      let status: number | undefined;
      let code: string | undefined;
      let auditRef: string | undefined;
      const seenBefore = scenario.probed ? (rejectionsIn(scenario.probed.gateway.auditPath).at(-1)?.seq ?? 0) : 0;
      try {
        const result = await scenario.run();
        if ('status' in result) {
          ({ outcome, detail } = describeCall(result));
          status = result.status;
          code = result.errorCode;
          auditRef = result.auditRef;
        } else {
          outcome = result.connected ? 'allow' : 'handshake-refused';
          const recorded = !result.connected && scenario.probed ? await newRejection(scenario.probed, seenBefore) : undefined;
          detail = result.connected ? 'handshake succeeded' : recorded ? `gateway: ${recorded.reason}` : `client saw: ${result.reason}`;
          if (recorded) auditRef = `${scenario.probed!.name}:${recorded.seq}`;
        }
      } catch (error) {
        detail = error instanceof Error ? error.message : String(error);
      }
      results.push({
        n: index + 1,
        title: scenario.title,
        caller: scenario.caller,
        target: scenario.target,
        request: scenario.request,
        expected: scenario.expected,
        outcome,
        ...(status !== undefined ? { status } : {}),
        ...(code ? { code } : {}),
        ...(auditRef ? { auditRef } : {}),
        detail,
        ms: Math.round((performance.now() - started) * 10) / 10,
        ok: outcome === scenario.expected,
      });
    }
  } finally {
    for (const agent of agents) agent.destroy();
  }
  return results;
}
