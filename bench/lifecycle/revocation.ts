/**
 * Revocation propagation across lab clusters. Each round revokes one fresh
 * workload SVID (POST /v1/svids/:serial/revoke as a key-custodian) and, for
 * every gateway in parallel, repeats a TLS handshake with that SVID against
 * the gateway's outbound listener until the gateway refuses it (probes.ts).
 * Before the revocation every gateway admits the certificate; once the
 * revocation has reached a gateway, the connection is destroyed at the TLS
 * admission step.
 *
 * Time is measured from just before the revoke request is sent to the end
 * of the first refused probe (confirmed by a second one), so it includes
 * the revoke API call and up to one probe (plus the pause between probes)
 * of resolution. Alongside, a connection opened with the SVID before the
 * revocation and kept open shows, without polling, the moment each gateway
 * applied it (held-connection.ts). Probing ten gateways in a loop loads a
 * small machine, so each probed round is followed by a quiet round that
 * only holds connections: its cut times are propagation without the probes.
 */
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { apiRequest } from '../../src/client/api.ts';
import { startLab, type ClusterPlan, type LabWorld } from '../../src/lab/world.ts';
import { x509 } from '../../src/pki/x509.ts';
import { WorkloadIdentity, type SvidMaterial } from '../../src/workload/identity.ts';
import { admissionProbe, holdConnection, type HeldConnection } from './probes.ts';

export const WORKLOAD = { name: 'client', namespace: 'apps' } as const;

export function topology(clusters: number): ClusterPlan[] {
  return Array.from({ length: clusters }, (_, i) => ({
    name: `c${String(i + 1).padStart(2, '0')}`,
    service: { name: 'svc', namespace: 'apps' },
    workloads: [WORKLOAD],
  }));
}

export interface RevocationOptions {
  readonly dir: string;
  readonly clusters: number;
  readonly rounds: number;
  /** Pause between two probes of one gateway. */
  readonly probeMs: number;
  /** A round fails if some gateway still admits the SVID after this long. */
  readonly timeoutMs: number;
  readonly log: (line: string) => void;
}

export interface RevocationResult {
  readonly clusters: number;
  readonly gateways: string[];
  readonly startMs: number;
  /** [probed round][gateway] ms from the revoke call until refused (NaN: never within the timeout). */
  readonly refusedMs: number[][];
  /** [round][gateway] ms from the revoke call until the gateway closed the connection held open with the SVID. */
  readonly cutMs: number[][];
  /** The same, in the quiet rounds: no handshake probes running. */
  readonly quietCutMs: number[][];
  /** ms of the revoke API call itself, per round. */
  readonly revokeCallMs: number[];
  /** ms of the probes that were admitted (handshake + the 400 answer), for resolution. */
  readonly admittedProbeMs: number[];
  /** Per round: GET /v1/crl/<cluster>.pem right after the round, ms, and whether it listed the serial. */
  readonly crlFetchMs: number[];
  readonly crlListed: boolean[];
  readonly refusedReasons: Map<string, number>;
}

type Credentials = Pick<SvidMaterial, 'certPem' | 'keyPem' | 'bundlePem' | 'serial'>;

async function attestFresh(world: LabWorld, cluster: string): Promise<Credentials> {
  const c = world.clusters.get(cluster)!;
  const cp = world.controlPlane;
  const identity = await WorkloadIdentity.attest({
    server: cp.url,
    bundlePem: cp.bundlePem,
    serverId: cp.spiffeId,
    attestation: { kind: 'k8s', cluster, token: () => c.apiServer.mintToken(WORKLOAD.namespace, WORKLOAD.name) },
  });
  identity.close(); // no renewals: this SVID is about to be revoked
  return identity.current;
}

interface Refusal {
  readonly ms: number;
  readonly reason: string;
}

async function pollUntilRefused(gateway: { host: string; port: number }, creds: Credentials, since: number, options: RevocationOptions, admitted: number[]): Promise<Refusal> {
  const probe = () => admissionProbe(gateway, creds);
  for (;;) {
    const t0 = performance.now();
    const outcome = await probe();
    const end = performance.now();
    if (!outcome.admitted && !(await probe()).admitted) return { ms: end - since, reason: outcome.reason };
    if (outcome.admitted) admitted.push(end - t0);
    if (end - since > options.timeoutMs) return { ms: Number.NaN, reason: 'still admitted at timeout' };
    await sleep(options.probeMs);
  }
}

/** When the gateway closed a held connection, relative to `since`; NaN if not within the timeout. */
async function cutAfter(held: HeldConnection, since: number, timeoutMs: number): Promise<number> {
  const closedAt = await Promise.race([held.closed, sleep(timeoutMs, Number.NaN, { ref: false })]);
  held.destroy();
  if (closedAt < since) throw new Error('a gateway closed the held connection before the revocation');
  return closedAt - since;
}

async function crlLists(world: LabWorld, cluster: string, serial: string): Promise<{ ms: number; listed: boolean }> {
  const t0 = performance.now();
  const { body } = await apiRequest<string>({ server: world.controlPlane.url, bundlePem: world.controlPlane.bundlePem }, 'GET', `/v1/crl/${cluster}.pem`);
  const ms = performance.now() - t0;
  const wanted = serial.toLowerCase().replace(/^0+/, '');
  const listed = new x509.X509Crl(body).entries.some((e) => e.serialNumber.toLowerCase().replace(/^0+/, '') === wanted);
  return { ms, listed };
}

export async function measureRevocation(options: RevocationOptions): Promise<RevocationResult> {
  const t0 = performance.now();
  const world = await startLab({ dir: options.dir, topology: topology(options.clusters) });
  try {
    const startMs = performance.now() - t0;
    options.log(`  lab with ${options.clusters} clusters up in ${(startMs / 1000).toFixed(1)} s`);
    const names = [...world.clusters.keys()];
    const gateways = names.map((name) => world.clusters.get(name)!.gateway.outbound);
    const cp = world.controlPlane;
    const custodian = { ...cp.admin, token: (await cp.call<{ token: string }>('POST', '/v1/admins', { name: 'kim', roles: ['key-custodian'] })).token };

    // Each probed round is followed by a quiet one (held connections only, no
    // handshake probes), to show what the probing load itself costs. One fresh
    // SVID per round, attested up front, round-robin over the clusters.
    const fresh: Array<{ cluster: string; creds: Credentials; probed: boolean }> = [];
    for (let r = 0; r < options.rounds * 2; r++) {
      const cluster = names[Math.floor(r / 2) % names.length] as string;
      fresh.push({ cluster, creds: await attestFresh(world, cluster), probed: r % 2 === 0 });
    }

    const result: RevocationResult = { clusters: options.clusters, gateways: names, startMs, refusedMs: [], cutMs: [], quietCutMs: [], revokeCallMs: [], admittedProbeMs: [], crlFetchMs: [], crlListed: [], refusedReasons: new Map() };
    for (const [round, { cluster, creds, probed }] of fresh.entries()) {
      // Every gateway admits the SVID before it is revoked, or the round proves nothing: a probe is
      // answered, and the connection held open (handshake done before the probe's) is still open.
      const held = await Promise.all(gateways.map((g) => holdConnection(g, creds)));
      const before = await Promise.all(gateways.map((g) => admissionProbe(g, creds)));
      const refusedEarly = before.findIndex((o, i) => !o.admitted || !held[i]!.isOpen());
      if (refusedEarly >= 0) throw new Error(`round ${round + 1}: gateway ${names[refusedEarly]} refused the SVID before it was revoked (${before[refusedEarly]?.reason})`);
      // A random pause, so revocations do not fall at a fixed phase of the server's 200 ms event poll.
      await sleep(200 + Math.random() * 250);

      const since = performance.now();
      const revoke = cp.call('POST', `/v1/svids/${creds.serial}/revoke`, { reason: 'bench: revocation propagation' }, custodian).then(() => performance.now() - since);
      const refusals = probed ? await Promise.all(gateways.map((g) => pollUntilRefused(g, creds, since, options, result.admittedProbeMs))) : [];
      const cuts = await Promise.all(held.map((h) => cutAfter(h, since, options.timeoutMs)));
      result.revokeCallMs.push(await revoke);
      if (probed) {
        result.refusedMs.push(refusals.map((r) => r.ms));
        result.cutMs.push(cuts);
        for (const r of refusals) result.refusedReasons.set(r.reason, (result.refusedReasons.get(r.reason) ?? 0) + 1);
      } else {
        result.quietCutMs.push(cuts);
      }
      const crl = await crlLists(world, cluster, creds.serial);
      result.crlFetchMs.push(crl.ms);
      result.crlListed.push(crl.listed);
      const finite = (probed ? refusals.map((r) => r.ms) : cuts).filter(Number.isFinite);
      const missing = held.length - finite.length;
      options.log(`  round ${round + 1}/${fresh.length} (${cluster}, ${probed ? 'probed' : 'quiet'}): ${probed ? 'refused' : 'cut'} everywhere after ${Math.max(...finite).toFixed(0)} ms${missing ? `, ${missing} gateways never did` : ''}`);
    }
    return result;
  } finally {
    await world.close();
  }
}
