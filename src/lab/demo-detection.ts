import { gatewaySpiffeId } from '../identity/spiffe-id.ts';
import { x509, parseCertificatesPem } from '../pki/x509.ts';
import { verifyEvidence } from '../audit/evidence.ts';
import type { Alert } from '../server/detectors.ts';
import type { EvidenceBundle } from '../server/incidents.ts';
import { tryHandshake } from './attackers.ts';
import { callThroughGateway, createWorkloadAgent } from './workload-client.ts';
import type { LabWorld } from './world.ts';

/**
 * The demo's last act: a copy of east's frontend SVID and key (as if taken
 * from a node) is used at the west gateway. The gateway refuses it and
 * reports it; the control plane's detector sees one SVID in two clusters,
 * opens an incident, revokes it; the real frontend attests again; the
 * stolen copy is refused at its home gateway too; the incident's evidence
 * verifies offline.
 */
export interface DetectionReport {
  readonly ok: boolean;
  readonly stolenId: string;
  readonly refusedAtWest: string | null;
  readonly incident: string | null;
  readonly detectedMs: number | null;
  readonly reattestedMs: number | null;
  readonly stolenRefusedAtHome: boolean;
  readonly evidence: { readonly records: number; readonly verified: boolean } | null;
}

const poll = async <T>(probe: () => Promise<T | undefined>, attempts = 100, everyMs = 50): Promise<T | undefined> => {
  for (let i = 0; i < attempts; i++) {
    const found = await probe();
    if (found !== undefined) return found;
    await new Promise((r) => setTimeout(r, everyMs));
  }
  return undefined;
};

export async function runDetectionDemo(world: LabWorld): Promise<DetectionReport> {
  const east = world.clusters.get('east')!;
  const west = world.clusters.get('west')!;
  const cp = world.controlPlane;
  const stolen = east.identities.get('frontend')!;
  const stolenSerial = new x509.X509Certificate(stolen.certPem).serialNumber;
  const thief = createWorkloadAgent(stolen, gatewaySpiffeId(west.trustDomain));
  const started = performance.now();
  let refusedAtWest: string | null = null;
  try {
    const attempt = await callThroughGateway(thief, west.gateway.outbound, { method: 'GET', host: 'catalog.east.interlock', path: '/' });
    refusedAtWest = attempt.status === 200 ? null : (attempt.errorCode ?? String(attempt.status));
  } finally {
    thief.destroy();
  }
  const alert = await poll(async () => (await cp.call<Alert[]>('GET', '/v1/alerts')).find((a) => a.detector === 'svid-in-two-clusters' && a.details.serial === stolenSerial));
  const detectedMs = alert ? performance.now() - started : null;
  const fresh = await poll(async () => {
    const current = east.identities.get('frontend')!;
    return new x509.X509Certificate(current.certPem).serialNumber !== stolenSerial ? current : undefined;
  });
  const reattestedMs = fresh ? performance.now() - started : null;
  const home = await tryHandshake({ ...east.gateway.outbound, credentials: stolen, bundlePem: stolen.bundlePem });
  let evidence: DetectionReport['evidence'] = null;
  if (alert?.incident) {
    const bundle = await cp.call<EvidenceBundle>('GET', `/v1/incidents/${alert.incident}/evidence`);
    const verified = await verifyEvidence(bundle, parseCertificatesPem(cp.bundlePem), new Date()).then(() => true, () => false);
    evidence = { records: bundle.audit.records.length, verified };
  }
  return {
    ok: refusedAtWest !== null && alert?.action === 'incident-opened' && fresh !== undefined && !home.connected && evidence?.verified === true,
    stolenId: stolen.spiffeId.id,
    refusedAtWest,
    incident: alert?.incident ?? null,
    detectedMs: detectedMs === null ? null : Math.round(detectedMs),
    reattestedMs: reattestedMs === null ? null : Math.round(reattestedMs),
    stolenRefusedAtHome: !home.connected,
    evidence,
  };
}
