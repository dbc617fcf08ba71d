import { spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, createWriteStream, existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify as toYaml } from 'yaml';
import { InterlockError } from '../errors.ts';
import { systemClock } from '../clock.ts';
import { gatewaySpiffeId, spiffeIdFor } from '../identity/spiffe-id.ts';
import { CertificateAuthority } from '../pki/authority.ts';
import { generateKeyFileContent, resolveKeySecret } from '../pki/key-protection.ts';
import { writeSvidFiles, type SvidFiles } from '../pki/svid-files.ts';
import { loadTlsIdentity, type TlsIdentity } from '../gateway/tls-identity.ts';
import { writeFileAtomic } from '../util/files.ts';
import { freePort } from './free-port.ts';
import { startSampleService, type SampleService } from './sample-service.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const CLI = join(ROOT, 'bin', 'interlock.mjs');
export const DEMO_POLICY = join(ROOT, 'examples', 'policies', 'demo.cedar');
const LAB_MARKER = 'lab.json';

/** What runs in each lab cluster: one exported service and the workloads that call out. */
export interface ClusterPlan {
  readonly name: string;
  readonly service: { name: string; namespace: string };
  readonly workloads: ReadonlyArray<{ name: string; namespace: string }>;
}

export const DEMO_TOPOLOGY: readonly ClusterPlan[] = [
  { name: 'east', service: { name: 'catalog', namespace: 'shop' }, workloads: [{ name: 'frontend', namespace: 'shop' }, { name: 'reporting', namespace: 'analytics' }] },
  { name: 'west', service: { name: 'billing', namespace: 'billing' }, workloads: [] },
];

export interface LabGateway {
  readonly spiffeId: string;
  readonly inbound: { host: string; port: number };
  readonly outbound: { host: string; port: number };
  readonly configPath: string;
  readonly auditPath: string;
  readonly process: ChildProcess;
}

export interface LabCluster {
  readonly name: string;
  readonly trustDomain: string;
  readonly gateway: LabGateway;
  readonly service: SampleService;
  /** SVID files by workload name (the service's own identity included). */
  readonly identities: ReadonlyMap<string, TlsIdentity & { files: SvidFiles }>;
}

export interface LabWorld {
  readonly dir: string;
  readonly ca: CertificateAuthority;
  readonly clusters: ReadonlyMap<string, LabCluster>;
  readonly policyFile: string;
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

async function issueInto(ca: CertificateAuthority, cluster: string, id: string, dir: string) {
  const issued = await ca.issueSvid(cluster, id, { actor: 'lab' });
  const files = writeSvidFiles(dir, issued, ca.root.cert);
  return { ...loadTlsIdentity(files), files };
}

function waitForReady(child: ChildProcess, logPath: string, timeoutMs = 30_000): Promise<{ inbound: string; outbound: string }> {
  return new Promise((resolvePromise, reject) => {
    const log = createWriteStream(logPath);
    let buffered = '';
    let stderr = '';
    const timer = setTimeout(() => reject(new InterlockError('IL_ERR_LAB_FAILED', `gateway not ready after ${timeoutMs} ms; see ${logPath}`)), timeoutMs);
    child.stdout!.on('data', (chunk: Buffer) => {
      log.write(chunk);
      buffered += chunk.toString('utf8');
      for (let nl = buffered.indexOf('\n'); nl !== -1; nl = buffered.indexOf('\n')) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        try {
          const entry = JSON.parse(line) as { event?: string; inbound?: string; outbound?: string };
          if (entry.event === 'gateway.ready' && entry.inbound && entry.outbound) {
            clearTimeout(timer);
            resolvePromise({ inbound: entry.inbound, outbound: entry.outbound });
          }
        } catch {
          /* not a log line of ours */
        }
      }
    });
    child.stderr!.on('data', (chunk: Buffer) => {
      log.write(chunk);
      stderr += chunk.toString('utf8');
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new InterlockError('IL_ERR_LAB_FAILED', `gateway exited with code ${code}: ${stderr.trim().split('\n')[0] ?? ''}`));
    });
  });
}

function hostPort(value: string): { host: string; port: number } {
  const at = value.lastIndexOf(':');
  return { host: value.slice(0, at), port: Number(value.slice(at + 1)) };
}

export async function startLab(options: { dir: string; organization?: string; domain?: string; topology?: readonly ClusterPlan[]; policyFile?: string }): Promise<LabWorld> {
  const dir = resolve(options.dir);
  const topology = options.topology ?? DEMO_TOPOLOGY;
  prepareDir(dir);
  // The lab seals its CA keys with a generated key file; a real deployment
  // keeps that secret apart from the state folder (see docs/operator-guide.md).
  const keyFile = join(dir, 'secrets', 'ca.key');
  writeFileAtomic(keyFile, generateKeyFileContent(), 0o600);
  const ca = await CertificateAuthority.init(dir, {
    organization: options.organization ?? 'Acme',
    domain: options.domain ?? 'acme.internal',
    secret: resolveKeySecret({ keyFile }),
    clock: systemClock,
    actor: 'lab',
  });
  const policyFile = join(dir, 'policy', 'policy.cedar');
  mkdirSync(dirname(policyFile), { recursive: true });
  copyFileSync(options.policyFile ?? DEMO_POLICY, policyFile);

  const planned: Array<{
    plan: ClusterPlan;
    trustDomain: string;
    base: string;
    gatewayIdentity: TlsIdentity;
    identities: Map<string, TlsIdentity & { files: SvidFiles }>;
    service: SampleService;
    inboundPort: number;
  }> = [];
  for (const plan of topology) {
    const { trustDomain } = await ca.addCluster(plan.name, undefined, 'lab');
    const base = join(dir, 'clusters', plan.name);
    const gatewayIdentity = await issueInto(ca, plan.name, gatewaySpiffeId(trustDomain), join(base, 'gateway'));
    const identities = new Map<string, TlsIdentity & { files: SvidFiles }>();
    for (const w of [plan.service, ...plan.workloads]) {
      identities.set(w.name, await issueInto(ca, plan.name, spiffeIdFor(trustDomain, w.namespace, w.name), join(base, 'workloads', w.name)));
    }
    const service = await startSampleService({ name: plan.service.name, cluster: plan.name, identity: identities.get(plan.service.name)!, gatewayId: gatewayIdentity.spiffeId.id });
    planned.push({ plan, trustDomain, base, gatewayIdentity, identities, service, inboundPort: await freePort() });
  }

  const clusters = new Map<string, LabCluster>();
  const world: LabWorld = {
    dir,
    ca,
    clusters,
    policyFile,
    close: async () => {
      for (const cluster of clusters.values()) {
        cluster.gateway.process.stdin?.end();
        cluster.gateway.process.kill('SIGTERM');
      }
      await Promise.all([...clusters.values()].map((c) => (c.gateway.process.exitCode === null ? new Promise((r) => c.gateway.process.once('exit', r)) : undefined)));
      await Promise.all(planned.map((p) => p.service.close()));
    },
  };
  try {
    for (const p of planned) {
      const configPath = join(p.base, 'gateway', 'gateway.yaml');
      const auditPath = join(dir, 'audit', `gateway-${p.plan.name}.audit.jsonl`);
      const peers = Object.fromEntries(
        planned.filter((other) => other !== p).map((other) => [other.plan.name, { address: `127.0.0.1:${other.inboundPort}`, trustDomain: other.trustDomain }]),
      );
      const config = {
        cluster: p.plan.name,
        trustDomain: p.trustDomain,
        identity: { cert: 'svid.pem', key: 'svid.key', bundle: 'bundle.pem' },
        inbound: { listen: `127.0.0.1:${p.inboundPort}` },
        outbound: { listen: '127.0.0.1:0' },
        peers,
        services: { [p.plan.service.name]: { upstream: `https://127.0.0.1:${p.service.port}`, id: p.identities.get(p.plan.service.name)!.spiffeId.id } },
        policy: { file: policyFile },
        audit: { file: auditPath },
      };
      writeFileAtomic(configPath, toYaml(config), 0o644);
      const child = spawn(process.execPath, [CLI, 'gateway', '--config', configPath, '--stop-with-stdin'], { stdio: ['pipe', 'pipe', 'pipe'] });
      const ready = await waitForReady(child, join(p.base, 'gateway', 'gateway.log'));
      clusters.set(p.plan.name, {
        name: p.plan.name,
        trustDomain: p.trustDomain,
        service: p.service,
        identities: p.identities,
        gateway: { spiffeId: p.gatewayIdentity.spiffeId.id, inbound: hostPort(ready.inbound), outbound: hostPort(ready.outbound), configPath, auditPath, process: child },
      });
    }
  } catch (error) {
    await world.close();
    throw error;
  }
  return world;
}
