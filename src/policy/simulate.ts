import { parseWorkloadSpiffeId } from '../identity/spiffe-id.ts';
import type { AuditRecord } from '../audit/record.ts';
import type { PolicyDecisionPoint, PolicyRequest } from './pdp.ts';

/**
 * Replays recorded decisions (policy.decision audit records) through a
 * candidate policy and reports which past requests would now be decided
 * differently. Requests that never reached the policy (authentication
 * failures) are skipped: the candidate cannot change them.
 */
export interface RecordedDecision {
  readonly seq: number;
  readonly time: string;
  readonly request: PolicyRequest;
  readonly allowed: boolean;
}

export interface ChangeGroup {
  readonly principal: string;
  readonly resource: string;
  readonly change: 'allow→deny' | 'deny→allow';
  readonly count: number;
  readonly methods: string[];
  /** The candidate's reason for the first request of the group. */
  readonly example: string;
}

export interface SimulationResult {
  readonly replayed: number;
  readonly skipped: number;
  readonly unchanged: number;
  readonly changed: number;
  readonly groups: ChangeGroup[];
}

export function recordedDecision(record: AuditRecord): RecordedDecision | undefined {
  if (record.type !== 'policy.decision') return undefined;
  const d = record.data as Record<string, string | undefined>;
  if (!d.principal || !d.resource || !d.method || !d.sourceCluster || (d.decision !== 'allow' && d.decision !== 'deny')) return undefined;
  const [cluster, service] = d.resource.split('/');
  if (!cluster || !service) return undefined;
  let id;
  try {
    id = parseWorkloadSpiffeId(d.principal);
  } catch {
    return undefined;
  }
  return {
    seq: record.seq,
    time: record.time,
    allowed: d.decision === 'allow',
    request: {
      principal: { id: id.id, trustDomain: id.trustDomain, cluster: d.sourceCluster, ...(id.namespace ? { namespace: id.namespace } : {}), ...(id.serviceAccount ? { serviceAccount: id.serviceAccount } : {}) },
      resource: { cluster, service, ...(d.classification ? { classification: d.classification } : {}) },
      context: { method: d.method, path: d.path ?? '/', sourceCluster: d.sourceCluster, ...(d.purpose ? { purpose: d.purpose } : {}) },
    },
  };
}

export function simulate(records: readonly AuditRecord[], candidate: PolicyDecisionPoint, since?: Date): SimulationResult {
  const groups = new Map<string, { principal: string; resource: string; change: ChangeGroup['change']; count: number; methods: Set<string>; example: string }>();
  let replayed = 0;
  let skipped = 0;
  let changed = 0;
  for (const record of records) {
    if (since && Date.parse(record.time) < since.getTime()) continue;
    const recorded = recordedDecision(record);
    if (!recorded) {
      if (record.type === 'policy.decision') skipped++;
      continue;
    }
    replayed++;
    const now = candidate.decide(recorded.request);
    if (now.allowed === recorded.allowed) continue;
    changed++;
    const resource = `${recorded.request.resource.cluster}/${recorded.request.resource.service}`;
    const change = recorded.allowed ? 'allow→deny' : 'deny→allow';
    const key = `${recorded.request.principal.id} ${resource} ${change}`;
    const group = groups.get(key) ?? { principal: recorded.request.principal.id, resource, change, count: 0, methods: new Set<string>(), example: now.reason };
    group.count++;
    group.methods.add(recorded.request.context.method);
    groups.set(key, group);
  }
  return {
    replayed,
    skipped,
    unchanged: replayed - changed,
    changed,
    groups: [...groups.values()].map((g) => ({ ...g, methods: [...g.methods].sort() })).sort((a, b) => b.count - a.count || a.principal.localeCompare(b.principal)),
  };
}
