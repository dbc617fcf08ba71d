import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ChildProcess } from 'node:child_process';
import { stringify as toYaml } from 'yaml';
import { InterlockError } from '../errors.ts';
import { GATEWAY_NAMESPACE, GATEWAY_SERVICE_ACCOUNT, gatewaySpiffeId, parseWorkloadSpiffeId, spiffeIdFor } from '../identity/spiffe-id.ts';
import { generateKeyFileContent } from '../pki/key-protection.ts';
import type { TlsIdentity } from '../gateway/tls-identity.ts';
import { WorkloadIdentity, type SvidMaterial } from '../workload/identity.ts';
import type { PolicyVersionRow, RegistrationEntryRow } from '../store/types.ts';
import { writeFileAtomic } from '../util/files.ts';
import { splitHostPort } from '../config/host-port.ts';
import { startLabControlPlane, type LabControlPlane } from './control-plane.ts';
import { createFakeApiServer, type FakeApiServer } from './fake-kubernetes.ts';
import { freePort } from './free-port.ts';
import { declareLabServices } from './catalogue.ts';
import { spawnInterlock, stopChild } from './process.ts';
import { startSampleService, type SampleService, type ServedRequest } from './sample-service.ts';
import type { ClusterNetwork, LabNetwork } from './netns.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const DEMO_POLICY = join(ROOT, 'examples', 'policies', 'demo.cedar');
const LAB_MARKER = 'lab.json';
/** Fixed listener ports inside a cluster's network namespace. */
const NETNS_INBOUND_PORT = 8443;
const NETNS_OUTBOUND_PORT = 15001;
const NETNS_ADMIN_PORT = 15000;

/** What runs in each lab cluster: one exported service and the workloads that call out. */
export interface ClusterPlan {
  readonly name: string;
  readonly service: { name: string; namespace: string; classification?: 'public' | 'internal' | 'confidential' | 'restricted'; critical?: true | string[] };
  readonly workloads: ReadonlyArray<{ name: string; namespace: string }>;
}

export const DEMO_TOPOLOGY: readonly ClusterPlan[] = [
  { name: 'east', service: { name: 'catalog', namespace: 'shop' }, workloads: [{ name: 'frontend', namespace: 'shop' }, { name: 'reporting', namespace: 'analytics' }] },
  { name: 'west', service: { name: 'billing', namespace: 'billing', classification: 'confidential' }, workloads: [] },
];

export interface LabGateway {
  readonly spiffeId: string;
  readonly inbound: { host: string; port: number };
  readonly outbound: { host: string; port: number };
  /** Health and readiness (plain HTTP on loopback). */
  readonly admin: { host: string; port: number };
  readonly configPath: string;
  readonly auditPath: string;
  /**
   * How the gateway attested: the first lab cluster with a join token
   * (single-use: now spent, which the demo shows), the others with a
   * Kubernetes service-account token file the lab keeps fresh, as the kubelet
   * does for a projected token, so they can attest again after a compromise.
   */
  readonly attestation: { readonly kind: 'join-token' | 'k8s'; readonly file: string };
  /** The spent join token's file, for the first cluster. */
  readonly joinTokenFile: string | null;
  readonly process: ChildProcess;
}

/** A workload's identity as the lab holds it: attested, renewing, and also written to files for curl. */
export type LabIdentity = TlsIdentity & { files: { cert: string; key: string; bundle: string } };

export interface LabCluster {
  readonly name: string;
  readonly trustDomain: string;
  readonly gateway: LabGateway;
  readonly service: SampleService;
  readonly apiServer: FakeApiServer;
  /** Each workload's current SVID: replaced as the SDK renews it. */
  readonly identities: ReadonlyMap<string, LabIdentity>;
  /** The renewing identities themselves, for code that follows rotations. */
  readonly workloads: ReadonlyMap<string, WorkloadIdentity>;
}

export interface LabWorld {
  readonly dir: string;
  readonly controlPlane: LabControlPlane;
  readonly clusters: ReadonlyMap<string, LabCluster>;
  readonly policyFile: string;
  readonly policy: PolicyVersionRow;
  /** The network namespaces the lab runs in, or null on loopback. */
  readonly network: LabNetwork | null;
  /**
   * Stops a cluster's gateway and starts it again from the same config, with
   * extra environment (e.g. libfaketime for clock skew) or CLI arguments; the
   * cluster's entry in `clusters` is replaced. Needs a gateway that can attest
   * again (`gatewayAttestation: 'k8s'`, or any cluster but the first).
   */
  restartGateway(name: string, options?: { env?: NodeJS.ProcessEnv; args?: readonly string[] }): Promise<LabCluster>;
  close(): Promise<void>;
}

/** Removes a previous lab, but never a folder that is not one. */
function prepareDir(dir: string): void {
  if (existsSync(dir) && readdirSync(dir).length > 0) {
    if (!existsSync(join(dir, LAB_MARKER))) {
      throw new InterlockError('IL_ERR_LAB_FAILED', `${dir} exists and is not an Interlock lab folder; refusing to delete it`, { field: '--dir' });
    }
    rmSync(dir, { recursive: true, force: true });
  }
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  writeFileAtomic(join(dir, LAB_MARKER), JSON.stringify({ createdAt: new Date().toISOString() }) + '\n', 0o644);
}

/**
 * Separation of duties, as an organisation would run it: `alice` proposes
 * the policy, `bob` approves and activates it. The active version's text is
 * what the gateways enforce.
 */
async function activatePolicy(cp: LabControlPlane, text: string): Promise<PolicyVersionRow> {
  const author = await cp.call<{ token: string }>('POST', '/v1/admins', { name: 'alice', roles: ['policy-author'] });
  const approver = await cp.call<{ token: string }>('POST', '/v1/admins', { name: 'bob', roles: ['policy-approver'] });
  const as = (token: string) => ({ ...cp.admin, token });
  const proposed = await cp.call<PolicyVersionRow>('POST', '/v1/policies', { text, comment: 'lab demo policy' }, as(author.token));
  await cp.call('POST', `/v1/policies/${proposed.version}/approve`, {}, as(approver.token));
  return cp.call<PolicyVersionRow>('POST', `/v1/policies/${proposed.version}/activate`, {}, as(approver.token));
}

function writeIdentityFiles(svid: SvidMaterial, dir: string): LabIdentity {
  const files = { cert: join(dir, 'svid.pem'), key: join(dir, 'svid.key'), bundle: join(dir, 'bundle.pem') };
  writeFileAtomic(files.cert, svid.certPem, 0o644);
  writeFileAtomic(files.key, svid.keyPem, 0o600);
  writeFileAtomic(files.bundle, svid.bundlePem, 0o644);
  return { certPem: svid.certPem, keyPem: svid.keyPem, bundlePem: svid.bundlePem, spiffeId: parseWorkloadSpiffeId(svid.spiffeId), files };
}

/** Attests a workload, and keeps `identities` (and its files) current as the SDK renews it. */
async function attestWorkload(cp: LabControlPlane, api: FakeApiServer, namespace: string, name: string, dir: string, identities: Map<string, LabIdentity>): Promise<WorkloadIdentity> {
  const workload = await WorkloadIdentity.attest({
    server: cp.url,
    bundlePem: cp.bundlePem,
    serverId: cp.spiffeId,
    attestation: { kind: 'k8s', cluster: api.cluster, token: () => api.mintToken(namespace, name) },
    follow: true,
  });
  identities.set(name, writeIdentityFiles(workload.current, dir));
  workload.on('rotated', (svid) => identities.set(name, writeIdentityFiles(svid, dir)));
  return workload;
}

/** A cluster between the creation of its identities and the start of its gateway. */
interface PreparedCluster {
  readonly plan: ClusterPlan;
  readonly trustDomain: string;
  readonly base: string;
  readonly apiServer: FakeApiServer;
  readonly identities: Map<string, LabIdentity>;
  readonly live: Map<string, WorkloadIdentity>;
  readonly service: SampleService;
  readonly attestation: LabGateway['attestation'];
  readonly net: ClusterNetwork | undefined;
  readonly inboundPort: number;
}

export interface LabOptions {
  readonly dir: string;
  readonly organization?: string;
  readonly domain?: string;
  readonly topology?: readonly ClusterPlan[];
  readonly policyFile?: string;
  /** How long signed policy bundles stay valid (default 24 h); tests shorten it to watch gateways fail closed. */
  readonly bundleTtlMs?: number;
  /** X.509-SVID lifetime for every lab identity (default: the control plane's, 1 h); tests shorten it to rotate every few seconds. */
  readonly svidTtlSeconds?: number;
  /** Gateway limits to override (see gateway/config.ts), e.g. a small maxBodyBytes for tests. */
  readonly gatewayLimits?: Readonly<Record<string, number>>;
  /** OTLP/HTTP endpoint the gateways export their spans to (none by default). */
  readonly otlpEndpoint?: string;
  /** Policy denials of one identity that make a gateway report a deny-burst (default 20 in 60 s). */
  readonly denyBurstThreshold?: number;
  /** How often gateways re-fetch the bundle without a watch event (default 60 s). */
  readonly policyRefreshMs?: number;
  /** Run each cluster in its own network namespace (from netns.ts createNetnsTopology); loopback when absent. */
  readonly network?: LabNetwork;
  /** The control plane's store URL (e.g. postgres://…); default an SQLite file in the lab folder. */
  readonly store?: string;
  /** 'k8s': every gateway attests with a service-account token, so any of them can be restarted (default: the first uses a join token). */
  readonly gatewayAttestation?: 'k8s';
  /** Extra `interlock gateway` arguments per cluster. */
  readonly gatewayArgs?: Readonly<Record<string, readonly string[]>>;
  /** Called for every request a sample service answers. */
  readonly onServiceRequest?: (cluster: string, request: ServedRequest) => void;
}

export async function startLab(options: LabOptions): Promise<LabWorld> {
  const dir = resolve(options.dir);
  const topology = options.topology ?? DEMO_TOPOLOGY;
  prepareDir(dir);
  // The lab seals its CA keys with a generated key file; a real deployment
  // keeps that secret apart from the state folder (see docs/control-plane.md).
  const keyFile = join(dir, 'secrets', 'ca.key');
  writeFileAtomic(keyFile, generateKeyFileContent(), 0o600);
  const network = options.network ?? null;
  const cp = await startLabControlPlane(dir, {
    organization: options.organization ?? 'Acme',
    domain: options.domain ?? 'acme.internal',
    keyFile,
    ...(options.bundleTtlMs ? { bundleTtlMs: options.bundleTtlMs } : {}),
    ...(network ? { host: network.controlPlaneHost } : {}),
    ...(options.store ? { store: options.store } : {}),
  });
  const workloads: WorkloadIdentity[] = [];
  const services: SampleService[] = [];
  const children: ChildProcess[] = [];
  const clusters = new Map<string, LabCluster>();
  const timers: NodeJS.Timeout[] = [];
  const apiServers: FakeApiServer[] = [];
  const close = async () => {
    timers.forEach(clearInterval);
    await Promise.all(children.map(stopChild));
    await Promise.all(services.map((s) => s.close()));
    workloads.forEach((w) => w.close());
    await cp.stop();
    await Promise.all(apiServers.map((a) => a.close()));
  };
  try {
    const policy = await activatePolicy(cp, readFileSync(options.policyFile ?? DEMO_POLICY, 'utf8'));
    // Gateways fetch the signed bundle themselves; this copy is for people reading the lab folder.
    const policyFile = join(dir, 'policy', `policy-v${policy.version}.cedar`);
    writeFileAtomic(policyFile, policy.text, 0o644);

    const prepared: PreparedCluster[] = [];
    for (const plan of topology) {
      const apiServer = await createFakeApiServer(plan.name);
      apiServers.push(apiServer);
      const { trustDomain } = await cp.call<{ trustDomain: string }>('POST', '/v1/clusters', { name: plan.name, k8s: { issuer: apiServer.issuer, jwksUri: apiServer.jwksUri, caPem: apiServer.caPem } });
      const base = join(dir, 'clusters', plan.name);
      const ttl = options.svidTtlSeconds ? { ttlSeconds: options.svidTtlSeconds } : {};
      const useJoinToken = prepared.length === 0 && options.gatewayAttestation !== 'k8s';
      const net = network?.clusters.get(plan.name);
      const gatewayEntry = await cp.call<RegistrationEntryRow>('POST', '/v1/entries', {
        cluster: plan.name,
        spiffeId: gatewaySpiffeId(trustDomain),
        gateway: true,
        ...(useJoinToken ? {} : { namespace: GATEWAY_NAMESPACE, serviceAccount: GATEWAY_SERVICE_ACCOUNT }),
        ...ttl,
      });
      let attestation: LabGateway['attestation'];
      if (useJoinToken) {
        const joinToken = await cp.call<{ token: string }>('POST', '/v1/join-tokens', { entryId: gatewayEntry.id, ttlSeconds: 600 });
        attestation = { kind: 'join-token', file: join(base, 'gateway', 'join-token') };
        writeFileAtomic(attestation.file, joinToken.token + '\n', 0o600);
      } else {
        attestation = { kind: 'k8s', file: join(base, 'gateway', 'sa-token') };
        const file = attestation.file;
        const project = async () => writeFileAtomic(file, (await apiServer.mintToken(GATEWAY_NAMESPACE, GATEWAY_SERVICE_ACCOUNT, { ttlSeconds: 3600 })) + '\n', 0o600);
        await project();
        const refresh = setInterval(() => void project(), 20 * 60_000);
        refresh.unref();
        timers.push(refresh);
      }
      const identities = new Map<string, LabIdentity>();
      const live = new Map<string, WorkloadIdentity>();
      for (const w of [plan.service, ...plan.workloads]) {
        await cp.call('POST', '/v1/entries', { cluster: plan.name, spiffeId: spiffeIdFor(trustDomain, w.namespace, w.name), namespace: w.namespace, serviceAccount: w.name, ...ttl });
        const workload = await attestWorkload(cp, apiServer, w.namespace, w.name, join(base, 'workloads', w.name), identities);
        workloads.push(workload);
        live.set(w.name, workload);
      }
      const onServiceRequest = options.onServiceRequest;
      const service = await startSampleService({
        name: plan.service.name,
        cluster: plan.name,
        identity: identities.get(plan.service.name)!,
        gatewayId: gatewaySpiffeId(trustDomain),
        ...(net ? { host: net.serviceHost } : {}),
        ...(onServiceRequest ? { onRequest: (request: ServedRequest) => onServiceRequest(plan.name, request) } : {}),
      });
      live.get(plan.service.name)!.on('rotated', () => service.rotate(identities.get(plan.service.name)!));
      services.push(service);
      // In a namespace the ports are the namespace's own, so fixed ones cannot collide.
      prepared.push({ plan, trustDomain, base, apiServer, identities, live, service, attestation, net, inboundPort: net ? NETNS_INBOUND_PORT : await freePort() });
    }
    const hostOf = (p: PreparedCluster) => ({
      inbound: p.net ? `${p.net.wanHost}:${p.inboundPort}` : `127.0.0.1:${p.inboundPort}`,
      outbound: p.net ? `${p.net.lanHost}:${NETNS_OUTBOUND_PORT}` : '127.0.0.1:0',
      admin: p.net ? `${p.net.lanHost}:${NETNS_ADMIN_PORT}` : '127.0.0.1:0',
      service: p.net ? p.net.serviceHost : '127.0.0.1',
    });
    const spawnGateway = async (p: PreparedCluster, configPath: string, auditPath: string, extra: { env?: NodeJS.ProcessEnv; args?: readonly string[] } = {}): Promise<LabCluster> => {
      const { child, ready } = await spawnInterlock(['gateway', '--config', configPath, ...(options.gatewayArgs?.[p.plan.name] ?? []), ...(extra.args ?? [])], {
        logPath: join(p.base, 'gateway', 'gateway.log'),
        readyEvent: 'gateway.ready',
        ...(p.net ? { prefix: p.net.exec } : {}),
        ...(extra.env ? { env: extra.env } : {}),
      });
      children.push(child);
      const cluster: LabCluster = {
        name: p.plan.name,
        trustDomain: p.trustDomain,
        service: p.service,
        apiServer: p.apiServer,
        identities: p.identities,
        workloads: p.live,
        gateway: { spiffeId: String(ready.spiffeId), inbound: splitHostPort(String(ready.inbound)), outbound: splitHostPort(String(ready.outbound)), admin: splitHostPort(String(ready.admin)), configPath, auditPath, attestation: p.attestation, joinTokenFile: p.attestation.kind === 'join-token' ? p.attestation.file : null, process: child },
      };
      clusters.set(p.plan.name, cluster);
      return cluster;
    };

    for (const p of prepared) {
      const configPath = join(p.base, 'gateway', 'gateway.yaml');
      const auditPath = join(dir, 'audit', `gateway-${p.plan.name}.audit.jsonl`);
      const peers = Object.fromEntries(prepared.filter((o) => o !== p).map((o) => [o.plan.name, { address: hostOf(o).inbound, trustDomain: o.trustDomain }]));
      const config = {
        cluster: p.plan.name,
        trustDomain: p.trustDomain,
        identity: { server: cp.url, bundle: cp.bundleFile, serverId: cp.spiffeId, ...(p.attestation.kind === 'join-token' ? { joinTokenFile: p.attestation.file } : { k8sTokenFile: p.attestation.file }) },
        inbound: { listen: hostOf(p).inbound },
        outbound: { listen: hostOf(p).outbound },
        peers,
        services: {
          [p.plan.service.name]: {
            upstream: `https://${hostOf(p).service}:${p.service.port}`,
            id: p.identities.get(p.plan.service.name)!.spiffeId.id,
            ...(p.plan.service.classification ? { classification: p.plan.service.classification } : {}),
            ...(p.plan.service.critical ? { critical: p.plan.service.critical } : {}),
          },
        },
        policy: { controlPlane: { refreshMs: options.policyRefreshMs ?? 60_000, reportMs: 5_000 } },
        admin: { listen: hostOf(p).admin },
        audit: { file: auditPath },
        ...(options.denyBurstThreshold || options.gatewayLimits ? { limits: { ...(options.gatewayLimits ?? {}), ...(options.denyBurstThreshold ? { denyBurstThreshold: options.denyBurstThreshold } : {}) } } : {}),
        ...(options.otlpEndpoint ? { tracing: { otlpEndpoint: options.otlpEndpoint } } : {}),
      };
      writeFileAtomic(configPath, toYaml(config), 0o644);
      await spawnGateway(p, configPath, auditPath);
    }
    // The catalogue the reports and the dashboard read: each cluster's exported service and its classification.
    await declareLabServices(cp, topology);
    const restartGateway = async (name: string, extra: { env?: NodeJS.ProcessEnv; args?: readonly string[] } = {}): Promise<LabCluster> => {
      const current = clusters.get(name);
      const p = prepared.find((o) => o.plan.name === name);
      if (!current || !p) throw new InterlockError('IL_ERR_LAB_FAILED', `no lab cluster ${name}`, { field: 'cluster' });
      if (current.gateway.attestation.kind === 'join-token') throw new InterlockError('IL_ERR_LAB_FAILED', `the ${name} gateway attested with a single-use join token and cannot start again; start the lab with gatewayAttestation: 'k8s'`, { field: 'gatewayAttestation' });
      await stopChild(current.gateway.process);
      children.splice(children.indexOf(current.gateway.process), 1);
      return spawnGateway(p, current.gateway.configPath, current.gateway.auditPath, extra);
    };
    return { dir, controlPlane: cp, clusters, policyFile, policy, network, restartGateway, close };
  } catch (error) {
    await close();
    throw error;
  }
}
