import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AuditLog } from '../../src/audit/chain-file.ts';
import { fixedClock } from '../../src/clock.ts';
import { PolicyDecisionPoint, parsePolicies } from '../../src/policy/pdp.ts';
import { simulate } from '../../src/policy/simulate.ts';
import { runCli } from '../helpers/cli.ts';
import { tempDir } from '../helpers/pki.ts';

const FRONTEND = 'spiffe://east.acme.internal/ns/shop/sa/frontend';
const REPORTING = 'spiffe://east.acme.internal/ns/analytics/sa/reporting';

/** A gateway audit log as `interlock gateway` writes it: three allowed reads, two denied writes, one refused peer. */
function recordedTraffic(): string {
  const path = join(tempDir(), 'gateway-west.audit.jsonl');
  const log = new AuditLog(path, fixedClock('2026-11-20T10:00:00Z'));
  const decision = (principal: string, method: string, decision: 'allow' | 'deny') =>
    log.append({ type: 'policy.decision', actor: 'gw', data: { method, path: '/invoices/1', host: 'billing.west.interlock', sourceCluster: 'east', principal, resource: 'west/billing', decision, policyIds: [], reason: '' } });
  decision(FRONTEND, 'GET', 'allow');
  decision(FRONTEND, 'GET', 'allow');
  decision(REPORTING, 'GET', 'allow');
  decision(FRONTEND, 'POST', 'deny');
  decision(REPORTING, 'POST', 'deny');
  log.append({ type: 'policy.decision', actor: 'unauthenticated', data: { method: 'GET', path: '/', decision: 'deny', reason: 'IL_ERR_AUTHN_NOT_A_GATEWAY' } });
  return path;
}

test('simulation groups the decisions a candidate would change, by principal and resource', async () => {
  const path = recordedTraffic();
  const { readFileSync } = await import('node:fs');
  const records = readFileSync(path, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  // Candidate: frontend may GET and POST; reporting loses its read.
  const candidate = new PolicyDecisionPoint(parsePolicies(`permit (principal == Interlock::Workload::"${FRONTEND}", action, resource);`, 'candidate'));
  const result = simulate(records, candidate);
  assert.equal(result.replayed, 5);
  assert.equal(result.skipped, 1);
  assert.equal(result.changed, 2);
  assert.deepEqual(
    result.groups.map((g) => [g.change, g.principal, g.resource, g.count]),
    [
      ['allow→deny', REPORTING, 'west/billing', 1],
      ['deny→allow', FRONTEND, 'west/billing', 1],
    ],
  );
  assert.equal(simulate(records, candidate, new Date('2026-11-21T00:00:00Z')).replayed, 0);
});

test('interlock policy simulate prints the changes from audit files', () => {
  const path = recordedTraffic();
  const candidate = join(tempDir(), 'candidate.cedar');
  writeFileSync(candidate, 'forbid (principal, action, resource);\n');
  const result = runCli(['policy', 'simulate', candidate, '--audit', path]);
  assert.equal(result.status, 0, result.stderr);
  assert.match(result.stdout, /replayed 5 decisions: 2 unchanged, 3 would change/);
  assert.match(result.stdout, /allow→deny\s+2\s+spiffe:\/\/east\.acme\.internal\/ns\/shop\/sa\/frontend\s+west\/billing\s+GET/);
});
