/**
 * The audit events the benchmark appends: policy.decision records shaped
 * like the inbound gateway's (src/gateway/inbound.ts), with trace ids,
 * paths and principals that vary from record to record, and a clock that
 * moves 1 ms per record so store rows carry distinct times.
 */
import { randomBytes } from 'node:crypto';
import type { Clock } from '../../src/clock.ts';
import { nextRecord, type AuditEvent, type AuditRecord } from '../../src/audit/record.ts';

const TRACE_POOL = Array.from({ length: 4096 }, () => randomBytes(16).toString('hex'));
const SERVICES = ['orders', 'payments', 'inventory', 'ledger', 'search', 'profile', 'billing', 'shipping'];
const METHODS = ['GET', 'GET', 'GET', 'POST', 'PUT', 'DELETE'];
const ACTOR = 'spiffe://west.acme.internal/interlock/gateway';
const T0 = Date.parse('2025-06-01T00:00:00.000Z');

/** The i-th event (0-based); cheap and deterministic apart from the trace ids. */
export function decisionEvent(i: number): AuditEvent {
  const service = SERVICES[i % SERVICES.length] as string;
  const allowed = i % 10 !== 0;
  return {
    type: 'policy.decision',
    actor: ACTOR,
    data: {
      method: METHODS[i % METHODS.length],
      path: `/v1/${service}/${(i * 7919) % 100_000}`,
      host: `${service}.east.interlock`,
      traceId: TRACE_POOL[i % TRACE_POOL.length],
      spanId: (i + 1).toString(16).padStart(16, '0'),
      peer: ACTOR,
      sourceCluster: 'west',
      principal: `spiffe://west.acme.internal/ns/team-${i % 50}/sa/${service}-client`,
      resource: `east/${service}`,
      decision: allowed ? 'allow' : 'deny',
      policyVersion: 7,
      policyIds: allowed ? [`permit-${service}-${i % 50}`] : [],
      reason: allowed ? 'permitted' : 'no policy permits this call',
    },
  };
}

/** A clock that advances 1 ms each time it is read. */
export function steppingClock(): Clock {
  let t = T0;
  return { now: () => new Date(t++) };
}

/**
 * Builds records `from`..`from + count - 1` (0-based event indexes) of one
 * chain with nextRecord, continuing after `prev`.
 */
export function buildRecords(prev: AuditRecord | undefined, from: number, count: number, clock: Clock): AuditRecord[] {
  const out: AuditRecord[] = [];
  let last = prev;
  for (let i = from; i < from + count; i++) {
    last = nextRecord(last, decisionEvent(i), clock);
    out.push(last);
  }
  return out;
}
