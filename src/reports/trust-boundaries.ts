/**
 * `interlock report trust-boundaries`: which workload identities may reach
 * which services of another cluster, derived by asking the active Cedar
 * policy, through the same PDP and the same request the inbound gateway
 * builds (gateway/inbound.ts), about every registered workload identity ×
 * every service of every other cluster.
 *
 * The request's principal and resource are fixed by the registration and
 * the service (SPIFFE ID path → namespace and service account; the
 * service's classification). Its context is not: for each pair the report
 * enumerates the methods, paths and purposes the policies of that pair read
 * (standard HTTP methods, every literal the policy text compares them with,
 * and one value it does not mention), and, when a policy reads context.time,
 * sampled instants. A path allowed under only some of them is reported with
 * its condition (conditions.ts). Pure apart from Cedar: the caller fetches.
 */
import { fixedClock } from '../clock.ts';
import { parseWorkloadSpiffeId, isGatewayId, type SpiffeId } from '../identity/spiffe-id.ts';
import { PolicyDecisionPoint, parsePolicies, type PolicyRequest } from '../policy/pdp.ts';
import { serviceEntityId } from '../policy/entities.ts';
import { PolicySlicer } from '../policy/slicing.ts';
import { contextCandidates, type ContextCandidates } from './policy-values.ts';
import { ANY_METHOD, grantsOf, type Dimensions, type Grant, type Outcome } from './conditions.ts';
import { sampleInstants } from './time-samples.ts';

export const STANDARD_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const;
/** Values no policy mentions, standing for "any other". */
export const OTHER = { method: 'X-INTERLOCK-OTHER', path: '/.interlock-report/other', purpose: 'interlock-report-other' } as const;
export const LABELS = { anyMethod: ANY_METHOD, otherMethod: '(other)', otherPath: '(any other path)', otherPurpose: '(any other)', noPurpose: '(none)' } as const;

export interface ClusterInfo {
  readonly name: string;
  readonly trustDomain: string;
}

export interface EntryInfo {
  readonly cluster: string;
  readonly spiffeId: string;
  readonly gateway: boolean;
}

export interface ServiceInfo {
  readonly cluster: string;
  readonly name: string;
  readonly namespace: string | null;
  readonly classification: string | null;
}

export interface ServicesSource {
  /** catalogue: GET /v1/services; files: --services; policy: only the services the active policy names. */
  readonly kind: 'catalogue' | 'files' | 'policy';
  readonly detail: string;
}

export interface TrustBoundariesInput {
  readonly clusters: readonly ClusterInfo[];
  readonly entries: readonly EntryInfo[];
  readonly services: readonly ServiceInfo[];
  readonly servicesSource: ServicesSource;
  readonly policy: { readonly version: number; readonly text: string } | null;
  /** Clusters cut off after a compromise, when known: their links carry nothing whatever the policy says. */
  readonly isolated?: readonly string[];
  /** Things the caller learnt while fetching (e.g. a candidate in rollout). */
  readonly notes?: readonly string[];
  readonly now: Date;
}

export interface AllowedPath {
  readonly source: { readonly cluster: string; readonly trustDomain: string; readonly spiffeId: string; readonly label: string };
  readonly target: { readonly cluster: string; readonly trustDomain: string; readonly service: string; readonly namespace: string | null; readonly classification: string | null };
  /** Every method allowed under at least one enumerated context (`*`: the policies never read the method). */
  readonly methods: readonly string[];
  readonly grants: readonly Grant[];
  readonly policies: readonly string[];
  readonly conditional: boolean;
  /** One line, as the Markdown report prints it. */
  readonly summary: string;
}

export interface TrustBoundariesReport {
  readonly kind: 'trust-boundaries';
  readonly generatedAt: string;
  readonly policy: { readonly version: number; readonly digest: string; readonly policyIds: readonly string[]; readonly readsTime: boolean } | null;
  readonly servicesSource: ServicesSource;
  readonly clusters: ReadonlyArray<ClusterInfo & { readonly identities: readonly string[]; readonly services: readonly string[]; readonly isolated: boolean }>;
  /** Per direction between two clusters: identities × services evaluated, and how many pairs have an allowed path. */
  readonly boundaries: ReadonlyArray<{ readonly from: string; readonly to: string; readonly pairs: number; readonly allowed: number }>;
  readonly allowed: readonly AllowedPath[];
  readonly denied: { readonly pairs: number; readonly byDefault: number; readonly byForbid: number; readonly byEvaluationError: number; readonly forbids: ReadonlyArray<{ readonly policy: string; readonly pairs: number }> };
  readonly enumeration: { readonly methods: readonly string[]; readonly paths: readonly string[]; readonly purposes: readonly string[]; readonly datetimes: readonly string[]; readonly evaluations: number };
  readonly notes: readonly string[];
}

interface Identity {
  readonly entry: EntryInfo;
  readonly id: SpiffeId;
  readonly trustDomain: string;
  readonly label: string;
}

const byText = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

function identityLabel(cluster: string, id: SpiffeId): string {
  return id.namespace && id.serviceAccount ? `${cluster}/${id.namespace}/${id.serviceAccount}` : `${cluster}${id.path}`;
}

function requestFor(identity: Identity, service: ServiceInfo, method: string, path: string, purpose: string | undefined): PolicyRequest {
  const { id, entry } = identity;
  return {
    principal: { id: id.id, trustDomain: id.trustDomain, cluster: entry.cluster, ...(id.namespace ? { namespace: id.namespace } : {}), ...(id.serviceAccount ? { serviceAccount: id.serviceAccount } : {}) },
    resource: { cluster: service.cluster, service: service.name, ...(service.classification ? { classification: service.classification } : {}) },
    context: { method, path, sourceCluster: entry.cluster, ...(purpose !== undefined ? { purpose } : {}) },
  };
}

interface PairResult {
  readonly outcomes: Outcome[];
  readonly methodOrder: string[];
  readonly dims: Dimensions;
  readonly forbids: Set<string>;
  readonly errored: boolean;
}

/** Evaluates one pair over the context values its slice of the policy can read. */
function evaluatePair(identity: Identity, service: ServiceInfo, slicer: PolicySlicer, pdpAt: (instant: string) => PolicyDecisionPoint, candidates: ContextCandidates, now: Date): PairResult {
  const slice = slicer.sliceFor(identity.id.id, serviceEntityId(service.cluster, service.name));
  const reads = new Set(slice.shape.contextFields);
  const methods: Array<[string, string]> = reads.has('method')
    ? [...new Set([...STANDARD_METHODS, ...candidates.methods])].map((m) => [m, m] as [string, string]).concat([[OTHER.method, LABELS.otherMethod]])
    : [['GET', LABELS.anyMethod]];
  const paths: Array<[string, string]> = [[OTHER.path, LABELS.otherPath], ...(reads.has('path') ? candidates.paths.map((p) => [p.value, p.label] as [string, string]) : [])];
  const purposes: Array<[string | undefined, string]> = reads.has('purpose')
    ? [[undefined, LABELS.noPurpose], [OTHER.purpose, LABELS.otherPurpose], ...candidates.purposes.map((p) => [p, JSON.stringify(p)] as [string, string])]
    : [[undefined, LABELS.noPurpose]];
  const instants = slice.readsTime ? sampleInstants(now, candidates.datetimes) : [now.toISOString()];
  const outcomes: Outcome[] = [];
  const forbids = new Set<string>();
  let errored = false;
  for (const instant of instants) {
    const pdp = pdpAt(instant);
    for (const [method, methodLabel] of methods) {
      for (const [path, pathLabel] of paths) {
        for (const [purpose, purposeLabel] of purposes) {
          const decision = pdp.decide(requestFor(identity, service, method, path, purpose));
          if (decision.errorCode === 'IL_ERR_POLICY_EVALUATION_FAILED') errored = true;
          else if (!decision.allowed) decision.policyIds.forEach((p) => forbids.add(p));
          outcomes.push({ variant: { method: methodLabel, path: pathLabel, purpose: purposeLabel, instant }, allowed: decision.allowed, policyIds: decision.policyIds });
        }
      }
    }
  }
  const dims: Dimensions = { paths: paths.map(([, l]) => l), purposes: purposes.map(([, l]) => l), instants, otherPath: LABELS.otherPath, otherPurpose: reads.has('purpose') ? LABELS.otherPurpose : LABELS.noPurpose };
  return { outcomes, methodOrder: methods.map(([, l]) => l), dims, forbids, errored };
}

function summaryOf(source: Identity, service: ServiceInfo, grants: readonly Grant[], policies: readonly string[]): string {
  const methods = grants.map((g) => `${g.methods.map((m) => (m === LABELS.anyMethod ? 'any method' : m)).join(', ')}${g.condition ? ` [conditional: ${g.condition}]` : ''}`).join('; ');
  const classification = service.classification ? `classification ${service.classification}` : 'unclassified';
  return `${source.label} → ${service.cluster}/${service.name} (${methods}, ${classification}) via ${policies.length === 1 ? 'policy' : 'policies'} ${policies.join(', ')}`;
}

export function buildTrustBoundaries(input: TrustBoundariesInput): TrustBoundariesReport {
  const clusters = [...input.clusters].sort((a, b) => byText(a.name, b.name));
  const domainOf = new Map(clusters.map((c) => [c.name, c.trustDomain]));
  const notes = [...(input.notes ?? [])];
  const isolated = new Set(input.isolated ?? []);
  const identities: Identity[] = [];
  for (const entry of input.entries) {
    if (entry.gateway) continue;
    const trustDomain = domainOf.get(entry.cluster);
    if (!trustDomain) {
      notes.push(`entry ${entry.spiffeId} names cluster ${entry.cluster}, which is not registered: left out`);
      continue;
    }
    const id = parseWorkloadSpiffeId(entry.spiffeId);
    if (isGatewayId(id)) continue;
    identities.push({ entry, id, trustDomain, label: identityLabel(entry.cluster, id) });
  }
  identities.sort((a, b) => byText(a.entry.cluster, b.entry.cluster) || byText(a.id.id, b.id.id));
  const services = input.services.filter((s) => domainOf.has(s.cluster)).sort((a, b) => byText(a.cluster, b.cluster) || byText(a.name, b.name));
  for (const s of input.services) if (!domainOf.has(s.cluster)) notes.push(`service ${s.cluster}/${s.name} belongs to no registered cluster: left out`);

  const compiled = input.policy ? parsePolicies(input.policy.text, `policy version ${input.policy.version}`) : null;
  const candidates: ContextCandidates = compiled ? contextCandidates(compiled) : { methods: [], paths: [], purposes: [], datetimes: [] };
  const slicer = compiled ? new PolicySlicer(compiled, Number.MAX_SAFE_INTEGER) : null;
  const pdps = new Map<string, PolicyDecisionPoint>();
  const pdpAt = (instant: string) => {
    let pdp = pdps.get(instant);
    if (!pdp) pdps.set(instant, (pdp = new PolicyDecisionPoint(compiled!, fixedClock(instant))));
    return pdp;
  };
  if (!compiled) notes.push('no policy version is active: gateways deny every cross-cluster call (fail closed)');
  if (compiled?.readsTime) notes.push('the policy reads context.time: pairs whose policies read it were evaluated at sampled instants (every hour of the report day, UTC, and around each datetime the policy names)');

  const allowed: AllowedPath[] = [];
  const boundaries = new Map<string, { from: string; to: string; pairs: number; allowed: number }>();
  const forbidCounts = new Map<string, number>();
  let evaluations = 0;
  let byDefault = 0;
  let byForbid = 0;
  let byError = 0;
  for (const source of identities) {
    for (const service of services) {
      if (service.cluster === source.entry.cluster) continue;
      const key = `${source.entry.cluster}\n${service.cluster}`;
      const boundary = boundaries.get(key) ?? { from: source.entry.cluster, to: service.cluster, pairs: 0, allowed: 0 };
      boundaries.set(key, boundary);
      boundary.pairs++;
      if (!compiled || !slicer) {
        byDefault++;
        continue;
      }
      const result = evaluatePair(source, service, slicer, pdpAt, candidates, input.now);
      evaluations += result.outcomes.length;
      const grants = grantsOf(result.outcomes, result.methodOrder, result.dims);
      if (grants.length === 0) {
        if (result.errored) byError++;
        else if (result.forbids.size > 0) byForbid++;
        else byDefault++;
        for (const id of result.forbids) forbidCounts.set(id, (forbidCounts.get(id) ?? 0) + 1);
        continue;
      }
      boundary.allowed++;
      const policies = [...new Set(grants.flatMap((g) => g.policies))].sort();
      allowed.push({
        source: { cluster: source.entry.cluster, trustDomain: source.trustDomain, spiffeId: source.id.id, label: source.label },
        target: { cluster: service.cluster, trustDomain: domainOf.get(service.cluster)!, service: service.name, namespace: service.namespace, classification: service.classification },
        methods: grants.flatMap((g) => g.methods),
        grants,
        policies,
        conditional: grants.some((g) => g.condition !== null),
        summary: summaryOf(source, service, grants, policies),
      });
    }
  }
  const cut = allowed.filter((p) => isolated.has(p.source.cluster) || isolated.has(p.target.cluster)).length;
  if (cut > 0) notes.push(`${cut} allowed path${cut === 1 ? '' : 's'} touch an isolated cluster (${[...isolated].sort().join(', ')}): the gateways cut those links whatever the policy says`);
  const pairs = [...boundaries.values()].reduce((n, b) => n + b.pairs, 0);
  return {
    kind: 'trust-boundaries',
    generatedAt: input.now.toISOString(),
    policy: compiled && input.policy ? { version: input.policy.version, digest: compiled.digest, policyIds: compiled.policies.map((p) => p.id), readsTime: compiled.readsTime } : null,
    servicesSource: input.servicesSource,
    clusters: clusters.map((c) => ({
      ...c,
      identities: identities.filter((i) => i.entry.cluster === c.name).map((i) => i.id.id),
      services: services.filter((s) => s.cluster === c.name).map((s) => s.name),
      isolated: isolated.has(c.name),
    })),
    boundaries: [...boundaries.values()].sort((a, b) => byText(a.from, b.from) || byText(a.to, b.to)),
    allowed,
    denied: { pairs: pairs - allowed.length, byDefault, byForbid, byEvaluationError: byError, forbids: [...forbidCounts].map(([policy, n]) => ({ policy, pairs: n })).sort((a, b) => byText(a.policy, b.policy)) },
    enumeration: {
      methods: [...new Set([...STANDARD_METHODS, ...candidates.methods])],
      paths: candidates.paths.map((p) => p.label),
      purposes: candidates.purposes,
      datetimes: candidates.datetimes,
      evaluations,
    },
    notes,
  };
}
