/**
 * What the control-plane reports read, over the API with the caller's admin
 * token (role auditor covers every call). Optional sources — the service
 * catalogue, the dashboard snapshot that lists CAs and gateway trust — are
 * tolerated missing (404 on an older control plane, 403 for another role):
 * the report then says what it used instead.
 */
import { readFileSync } from 'node:fs';
import { apiRequest, type ApiConnection } from '../../../client/api.ts';
import { InterlockError } from '../../../errors.ts';
import { loadConfiguration } from '../../../declarative/load.ts';
import type { Plan } from '../../../declarative/types.ts';
import { parseCertificatesPem } from '../../../pki/x509.ts';
import type { DashboardSnapshot } from '../../../dashboard/snapshot.ts';
import type { PolicyVersionRow, RegistrationEntryRow, SvidRow } from '../../../store/types.ts';
import type { ClusterInfo, ServiceInfo, ServicesSource, TrustBoundariesInput } from '../../../reports/trust-boundaries.ts';
import type { AuthorityInput, GatewayState, InventoryInput } from '../../../reports/inventory.ts';
import { mergeServices, parseServicesFile } from '../../../reports/services-file.ts';
import { interlockTlsSettings } from '../../../reports/tls-settings.ts';

const SVID_LIMIT = 10_000;
const SERVICE_UID = /Interlock::Service::"([a-z0-9-]+)\/([a-z0-9-]+)"/g;

interface PolicyStatus {
  active: number | null;
  rollout: { version: number; stage: string; canary?: { clusters: string[]; percent: number } } | null;
  gateways: Array<{ cluster: string; gateway?: string; state: string; enforcedVersion?: number | null }>;
}

const get = async <T>(connection: ApiConnection, path: string): Promise<T> => (await apiRequest<T>(connection, 'GET', path)).body;

/** The body, or undefined when the route does not exist here or the caller's role may not read it. */
async function optional<T>(connection: ApiConnection, path: string): Promise<T | undefined> {
  try {
    return await get<T>(connection, path);
  } catch (error) {
    if (error instanceof InterlockError && (error.code === 'IL_ERR_NOT_FOUND' || error.code === 'IL_ERR_ROLE_FORBIDDEN')) return undefined;
    throw error;
  }
}

function readServiceFiles(files: readonly string[]): ServiceInfo[] {
  return mergeServices(
    files.map((file) => {
      let text: string;
      try {
        text = readFileSync(file, 'utf8');
      } catch (error) {
        throw new InterlockError('IL_ERR_CONFIG_NOT_FOUND', `cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? 'error'}`, { field: '--services' });
      }
      return { file, services: parseServicesFile(text, file) };
    }),
  );
}

/** Last resort: the services the active policy names, without a classification. */
function servicesNamedBy(policy: PolicyVersionRow | undefined): ServiceInfo[] {
  const found = new Map<string, ServiceInfo>();
  for (const match of policy?.text.matchAll(SERVICE_UID) ?? []) found.set(`${match[1]}/${match[2]}`, { cluster: match[1]!, name: match[2]!, namespace: null, classification: null });
  return [...found.values()];
}

async function servicesFor(connection: ApiConnection, files: readonly string[], policy: PolicyVersionRow | undefined): Promise<{ services: ServiceInfo[]; source: ServicesSource }> {
  if (files.length > 0) return { services: readServiceFiles(files), source: { kind: 'files', detail: `--services ${files.join(', ')}` } };
  const catalogue = await optional<Array<{ cluster: string; name: string; namespace?: string | null; classification?: string | null }>>(connection, '/v1/services');
  if (catalogue && catalogue.length > 0) {
    return {
      services: catalogue.map((s) => ({ cluster: s.cluster, name: s.name, namespace: s.namespace ?? null, classification: s.classification ?? null })),
      source: { kind: 'catalogue', detail: 'the control plane service catalogue (GET /v1/services)' },
    };
  }
  const why = catalogue ? 'the service catalogue is empty' : 'this control plane has no service catalogue (GET /v1/services: 404)';
  return {
    services: servicesNamedBy(policy),
    source: { kind: 'policy', detail: `the services the active policy names, without their classification (${why}; pass --services with gateway configurations for the full list)` },
  };
}

export async function trustBoundariesInput(connection: ApiConnection, serviceFiles: readonly string[], now: Date): Promise<TrustBoundariesInput> {
  const clusters = await get<ClusterInfo[]>(connection, '/v1/clusters');
  const entries = await get<RegistrationEntryRow[]>(connection, '/v1/entries');
  const policy = (await get<PolicyVersionRow[]>(connection, '/v1/policies')).find((v) => v.status === 'active');
  const status = await optional<PolicyStatus>(connection, '/v1/policy/status');
  const { services, source } = await servicesFor(connection, serviceFiles, policy);
  const snapshot = await optional<DashboardSnapshot>(connection, '/v1/dashboard/snapshot');
  const notes: string[] = [];
  if (status?.rollout && status.rollout.version !== policy?.version) {
    notes.push(`policy version ${status.rollout.version} is staged (${status.rollout.stage}): gateways in its ${status.rollout.stage === 'canary' ? 'canary' : 'dry run'} may decide by it; the paths above are those of the active version`);
  }
  return {
    clusters: clusters.map((c) => ({ name: c.name, trustDomain: c.trustDomain })),
    entries,
    services,
    servicesSource: source,
    policy: policy ? { version: policy.version, text: policy.text } : null,
    ...(snapshot ? { isolated: snapshot.clusters.filter((c) => c.isolated).map((c) => c.name) } : {}),
    notes,
    now,
  };
}

function authoritiesFrom(snapshot: DashboardSnapshot | undefined): AuthorityInput[] | null {
  if (!snapshot) return null;
  return snapshot.certificates.rows
    .filter((r) => r.kind === 'root CA' || r.kind === 'cluster CA')
    .map((r) => ({ serial: r.serial, kind: r.kind === 'root CA' ? ('root' as const) : ('cluster' as const), cluster: r.cluster, status: r.status as AuthorityInput['status'], notBefore: r.notBefore, notAfter: r.notAfter }));
}

function gatewaysFrom(status: PolicyStatus | undefined, snapshot: DashboardSnapshot | undefined): GatewayState[] | null {
  if (!status && !snapshot) return null;
  const clusters = new Set([...(status?.gateways ?? []).map((g) => g.cluster), ...(snapshot?.clusters ?? []).map((c) => c.name)]);
  return [...clusters].sort().map((cluster) => {
    const report = status?.gateways.find((g) => g.cluster === cluster);
    const view = snapshot?.clusters.find((c) => c.name === cluster)?.gateway;
    return {
      cluster,
      gateway: report?.gateway ?? view?.spiffeId ?? null,
      policyState: report?.state ?? 'unreported',
      enforcedVersion: report?.enforcedVersion ?? null,
      trust: view?.trust ?? null,
    };
  });
}

export async function inventoryInput(connection: ApiConnection, declaredDir: string | undefined, now: Date): Promise<InventoryInput> {
  // Checked first, whole, so a bad directory fails before the control plane is asked anything.
  const desired = declaredDir ? loadConfiguration(declaredDir).desired : undefined;
  const clusters = await get<ClusterInfo[]>(connection, '/v1/clusters');
  const entries = await get<RegistrationEntryRow[]>(connection, '/v1/entries');
  const svids = await get<SvidRow[]>(connection, `/v1/svids?valid=true&revoked=false&limit=${SVID_LIMIT}`);
  const rootsPem = await get<string>(connection, '/v1/bundle.pem');
  const status = await optional<PolicyStatus>(connection, '/v1/policy/status');
  const snapshot = await optional<DashboardSnapshot>(connection, '/v1/dashboard/snapshot');
  const plan = desired ? (await apiRequest<Plan>(connection, 'POST', '/v1/config/plan', { desired, prune: false })).body : undefined;
  const notes: string[] = [];
  if (svids.length >= SVID_LIMIT) notes.push(`only the first ${SVID_LIMIT} live SVIDs were read`);
  if (!snapshot) notes.push('gateway trust reports were not available (GET /v1/dashboard/snapshot): trust drift is not checked');
  return {
    now,
    clusters: clusters.map((c) => ({ name: c.name, trustDomain: c.trustDomain })),
    authorities: authoritiesFrom(snapshot),
    roots: parseCertificatesPem(typeof rootsPem === 'string' ? rootsPem : ''),
    svids,
    entries,
    tls: interlockTlsSettings(),
    activePolicy: status?.active ?? null,
    gateways: gatewaysFrom(status, snapshot),
    declared: plan && declaredDir ? { source: declaredDir, changes: plan.changes } : null,
    notes,
  };
}
