import type { FastifyInstance, FastifyReply } from 'fastify';
import { InterlockError } from '../../errors.ts';
import type { AuditRecord } from '../../audit/record.ts';
import { x509 } from '../../pki/x509.ts';
import type { Store } from '../../store/types.ts';
import { PUBLIC, roles } from '../auth.ts';
import type { ServerDeps } from '../app.ts';
import { gatewayTrustReports, trustDocument } from '../trust.ts';
import type { GatewayPolicyReport } from '../policy-service.ts';
import { WINDOW_SECONDS, buildSnapshot, type DashboardInput } from '../dashboard-service.ts';
import { ASSET_PREFIX, buildDashboard, type DashboardBundle } from '../../dashboard/build.ts';
import type { StreamRecords } from '../../dashboard/traffic.ts';
import type { DashboardSnapshot } from '../../dashboard/snapshot.ts';

/** Records read per gateway stream: the window's figures cover at most this many calls per gateway. */
const RECORDS_PER_STREAM = 5_000;
const MAX_SVIDS = 2_000;
/** Several open dashboards (or replicas' health checks) within this time share one snapshot. */
const SNAPSHOT_REUSE_MS = 1_000;

/**
 * The newest records of each gateway stream, kept between snapshots so a
 * poll reads only what arrived since the last one (the store can only read
 * a stream forwards from a sequence number).
 */
class StreamTails {
  readonly #tails = new Map<string, { head: number; records: AuditRecord[] }>();
  readonly #store: Store;

  constructor(store: Store) {
    this.#store = store;
  }

  async read(nowMs: number): Promise<StreamRecords[]> {
    const heads = await this.#store.gatewayAuditHeads();
    const out: StreamRecords[] = [];
    for (const { stream, seq } of heads) {
      let tail = this.#tails.get(stream);
      if (!tail || seq < tail.head || seq - tail.head > RECORDS_PER_STREAM) {
        tail = { head: 0, records: await this.#store.gatewayAuditSince(stream, Math.max(0, seq - RECORDS_PER_STREAM), RECORDS_PER_STREAM) };
      } else if (seq > tail.head) {
        tail = { head: 0, records: [...tail.records, ...(await this.#store.gatewayAuditSince(stream, tail.head, seq - tail.head))].slice(-RECORDS_PER_STREAM) };
      }
      tail.head = tail.records.at(-1)?.seq ?? 0;
      this.#tails.set(stream, tail);
      const oldest = tail.records[0];
      // Older records exist that were not read, and the oldest read is still inside the window.
      const truncated = !!oldest && oldest.seq > 1 && Date.parse(oldest.time) > nowMs - WINDOW_SECONDS * 1000;
      out.push({ stream, records: tail.records, truncated });
    }
    for (const stream of this.#tails.keys()) if (!heads.some((h) => h.stream === stream)) this.#tails.delete(stream);
    return out;
  }
}

/** notBefore of CA certificates, parsed once per serial. */
const caNotBefore = new Map<string, string>();
function notBeforeOf(serial: string, certPem: string): string {
  let value = caNotBefore.get(serial);
  if (!value) caNotBefore.set(serial, (value = new x509.X509Certificate(certPem).notBefore.toISOString()));
  return value;
}

async function gatherInput(deps: ServerDeps, tails: StreamTails, now: Date): Promise<DashboardInput> {
  const { store } = deps;
  const clusters = await store.listClusters();
  const svids = await store.listSvids({ validAt: now.toISOString(), limit: MAX_SVIDS + 1 });
  const trust = await trustDocument(store);
  const policy = await deps.policies.status(clusters.map((c) => c.name));
  return {
    clusters,
    authorities: (await store.listAuthorities()).map((a) => ({ serial: a.serial, kind: a.kind, cluster: a.cluster, status: a.status, notAfter: a.notAfter, notBefore: notBeforeOf(a.serial, a.certPem) })),
    svids: svids.slice(0, MAX_SVIDS),
    svidsTruncated: svids.length > MAX_SVIDS,
    gatewayIds: (await store.listEntries()).filter((e) => e.gateway).map((e) => ({ cluster: e.cluster, spiffeId: e.spiffeId })),
    trustedSerials: trust.authorities.map((a) => a.serial),
    isolated: trust.isolated.map((i) => i.cluster),
    trustReports: (await gatewayTrustReports(store, now)).flatMap((g) => (g.report ? [g.report] : [])),
    policyReports: policy.gateways.filter((g): g is GatewayPolicyReport => 'reportedAt' in g),
    activePolicy: policy.active,
    rollout: policy.rollout,
    streams: await tails.read(now.getTime()),
    alerts: await deps.detectors.alerts(),
    incidents: await deps.incidents.list(),
  };
}

function security(reply: FastifyReply): FastifyReply {
  // The page loads only its own script and stylesheet and talks only to this origin.
  return reply
    .header('content-security-policy', "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
    .header('x-content-type-options', 'nosniff')
    .header('referrer-policy', 'no-referrer');
}

/**
 * The operator dashboard: the page and its assets are public (they hold no
 * data and no secrets; the page asks for an admin token), the snapshot needs
 * an admin with `auditor`, `operator` or `key-custodian`, the roles that may
 * already read the certificate inventory, alerts and incidents. The page
 * polls the snapshot every 2 s (see docs/dashboard.md for why not SSE).
 */
export function registerDashboardRoutes(app: FastifyInstance, deps: ServerDeps): void {
  let bundle: Promise<DashboardBundle> | undefined;
  const assets = (): Promise<DashboardBundle> => {
    bundle ??= buildDashboard().then(
      (built) => {
        deps.log.info({ event: 'dashboard.built', ms: Math.round(built.buildMs), files: [...built.assets.keys()] }, 'dashboard page built');
        return built;
      },
      (error: unknown) => {
        bundle = undefined; // try again on the next request
        deps.log.error({ err: (error as Error).message }, 'dashboard build failed');
        throw new InterlockError('IL_ERR_INTERNAL', 'the dashboard page could not be built; see the control plane log');
      },
    );
    return bundle;
  };

  app.get('/dashboard', { config: { auth: PUBLIC } }, async (_request, reply) => {
    const { html } = await assets();
    return security(reply).header('cache-control', 'no-store').type('text/html; charset=utf-8').send(html);
  });

  app.get('/dashboard/', { config: { auth: PUBLIC } }, async (_request, reply) => reply.redirect('/dashboard', 301));

  app.get<{ Params: { file: string } }>(`${ASSET_PREFIX}:file`, { config: { auth: PUBLIC } }, async (request, reply) => {
    const asset = (await assets()).assets.get(request.params.file);
    if (!asset) throw new InterlockError('IL_ERR_NOT_FOUND', `no dashboard asset ${request.params.file}`, { field: 'url' });
    // Names carry a content hash: a new build gets new names, so an old copy may be kept for good.
    return security(reply).header('cache-control', 'public, max-age=31536000, immutable').type(asset.contentType).send(asset.body);
  });

  const tails = new StreamTails(deps.store);
  let latest: { at: number; snapshot: Promise<DashboardSnapshot> } | undefined;
  // Auditor only: the snapshot holds denied principals, paths and policy reasons from the gateways' audit streams.
  app.get('/v1/dashboard/snapshot', { config: { auth: roles('auditor') } }, async (_request, reply) => {
    const nowMs = deps.clock.now().getTime();
    if (!latest || nowMs - latest.at > SNAPSHOT_REUSE_MS) {
      const now = new Date(nowMs);
      const snapshot = gatherInput(deps, tails, now).then((input) => buildSnapshot(input, now));
      latest = { at: nowMs, snapshot };
      snapshot.catch(() => {
        if (latest?.snapshot === snapshot) latest = undefined;
      });
    }
    void reply.header('cache-control', 'no-store');
    return latest.snapshot;
  });
}
