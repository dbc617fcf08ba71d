import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { buildTrustBoundaries, type EntryInfo, type ServiceInfo, type TrustBoundariesInput } from '../../src/reports/trust-boundaries.ts';
import { renderReport } from '../../src/reports/render.ts';

const policy = (name: string) => readFileSync(new URL(`../../examples/policies/${name}`, import.meta.url), 'utf8');
const NOW = new Date('2026-03-10T12:00:00Z');
const CLUSTERS = [
  { name: 'east', trustDomain: 'east.acme.internal' },
  { name: 'west', trustDomain: 'west.acme.internal' },
];
const entry = (cluster: string, ns: string, sa: string, gateway = false): EntryInfo => ({ cluster, spiffeId: `spiffe://${cluster}.acme.internal/ns/${ns}/sa/${sa}`, gateway });
const service = (cluster: string, name: string, classification: string | null = null): ServiceInfo => ({ cluster, name, namespace: null, classification });

/** The lab's registrations: gateways, east's catalog/frontend/reporting, west's billing. */
const LAB_ENTRIES = [entry('east', 'interlock-system', 'interlock-gateway', true), entry('east', 'shop', 'catalog'), entry('east', 'shop', 'frontend'), entry('east', 'analytics', 'reporting'), entry('west', 'interlock-system', 'interlock-gateway', true), entry('west', 'billing', 'billing')];
const LAB_SERVICES = [service('east', 'catalog'), service('west', 'billing', 'confidential')];

function report(text: string | null, overrides: Partial<TrustBoundariesInput> = {}) {
  return buildTrustBoundaries({
    clusters: CLUSTERS,
    entries: LAB_ENTRIES,
    services: LAB_SERVICES,
    servicesSource: { kind: 'files', detail: 'fixture' },
    policy: text === null ? null : { version: 7, text },
    now: NOW,
    ...overrides,
  });
}

const lines = (r: ReturnType<typeof report>) => r.allowed.map((p) => p.summary);

test('the demo policy opens exactly one path: frontend reads billing with GET; gateways and same-cluster pairs are not evaluated', () => {
  const r = report(policy('demo.cedar'));
  assert.deepEqual(lines(r), ['east/shop/frontend → west/billing (GET, classification confidential) via policy east-frontend-reads-billing']);
  assert.deepEqual(r.allowed[0]!.methods, ['GET']);
  assert.equal(r.allowed[0]!.conditional, false);
  assert.deepEqual(r.boundaries, [
    { from: 'east', to: 'west', pairs: 3, allowed: 1 },
    { from: 'west', to: 'east', pairs: 1, allowed: 0 },
  ]);
  assert.deepEqual(r.denied, { pairs: 3, byDefault: 3, byForbid: 0, byEvaluationError: 0, forbids: [] });
  assert.deepEqual(r.clusters.map((c) => [c.name, c.identities.length, c.services]), [['east', 3, ['catalog']], ['west', 1, ['billing']]]);
  assert.equal(r.policy?.version, 7);
});

test('the output does not depend on the order the control plane lists things in', () => {
  const text = policy('segment-isolation.cedar');
  const entries = [...LAB_ENTRIES, entry('east', 'shop', 'checkout'), entry('west', 'payments', 'ledger')];
  const services = [...LAB_SERVICES, service('west', 'cart'), service('west', 'ledger')];
  const a = report(text, { entries, services });
  const b = report(text, { entries: [...entries].reverse(), services: [...services].reverse(), clusters: [...CLUSTERS].reverse() });
  assert.deepEqual(a, b);
});

test('a condition on the path is reported, with the policy that grants it', () => {
  const r = report(policy('segment-isolation.cedar'), { entries: [...LAB_ENTRIES, entry('east', 'shop', 'checkout')], services: [...LAB_SERVICES, service('west', 'cart')] });
  const checkout = r.allowed.find((p) => p.source.label === 'east/shop/checkout' && p.target.service === 'billing')!;
  assert.deepEqual(checkout.grants, [{ methods: ['POST'], condition: 'path in {/charges}', policies: ['checkout-creates-charges'] }]);
  assert.equal(checkout.conditional, true);
  // Within the storefront segment every method is allowed; billing is forbidden to the shop's other workloads.
  const cart = r.allowed.find((p) => p.source.label === 'east/shop/frontend' && p.target.service === 'cart')!;
  assert.deepEqual(cart.methods, ['*']);
  assert.ok(!r.allowed.some((p) => p.source.label === 'east/shop/frontend' && p.target.service === 'billing'));
  assert.ok(r.denied.forbids.some((f) => f.policy === 'no-lateral-movement-into-payments'));
});

test('conditions on the purpose and the classification come out as the policy states them', () => {
  const r = report(policy('classified-read-only.cedar'), {
    entries: [entry('east', 'analytics', 'reporter'), entry('east', 'support', 'desk')],
    services: [service('west', 'reports', 'confidential'), service('west', 'customers', 'restricted')],
  });
  assert.deepEqual(lines(r), [
    'east/analytics/reporter → west/customers (GET, HEAD [conditional: purpose in {"audit", "incident-response"}], classification restricted) via policy analytics-reads-customers',
    'east/analytics/reporter → west/reports (GET, HEAD [conditional: purpose not in {(none), ""}], classification confidential) via policy analytics-reads-reports',
    'east/support/desk → west/customers (GET, HEAD [conditional: purpose in {"audit", "incident-response"}], classification restricted) via policy support-uses-customers',
  ]);
});

test('the same service unclassified is open to every method: the classification is part of the request', () => {
  const r = report(policy('classified-read-only.cedar'), { entries: [entry('east', 'analytics', 'reporter')], services: [service('west', 'reports')] });
  assert.deepEqual(r.allowed.map((p) => p.methods), [['*']]);
});

test('a time window is found by sampling instants, and reported as conditional on time', () => {
  const r = report(policy('time-window.cedar'), { entries: [entry('east', 'batch', 'reconciler'), entry('east', 'analytics', 'reporter')], services: [service('west', 'ledger')] });
  const reconciler = r.allowed.find((p) => p.source.label === 'east/batch/reconciler')!;
  assert.equal(reconciler.grants.length, 1);
  assert.match(reconciler.grants[0]!.condition!, /^time: allowed at 4 of \d+ sampled instants \(2026-03-10T01:30:00\.000Z, 2026-03-10T02:30:00\.000Z, 2026-03-10T03:30:00\.000Z, 2026-03-10T04:30:00\.000Z\)$/);
  assert.deepEqual(r.allowed.find((p) => p.source.label === 'east/analytics/reporter')!.grants, [{ methods: ['GET'], condition: null, policies: ['reporting-reads-ledger'] }]);
  assert.ok(r.notes.some((n) => n.includes('context.time')));
});

test('without an active policy nothing crosses, and the report says why', () => {
  const r = report(null);
  assert.deepEqual(r.allowed, []);
  assert.equal(r.denied.byDefault, 4);
  assert.ok(r.notes.some((n) => n.includes('fail closed')));
});

test('a policy that fails to evaluate for a pair counts as denied by an evaluation error, never as allowed', () => {
  // principal.namespace is absent for an ID outside the /ns/<ns>/sa/<sa> convention: reading it is an error.
  const text = 'permit (principal, action, resource) when { principal.namespace == "shop" };';
  const r = report(text, { entries: [{ cluster: 'east', spiffeId: 'spiffe://east.acme.internal/batch/job', gateway: false }, entry('east', 'shop', 'frontend')] });
  assert.deepEqual(r.allowed.map((p) => p.source.label), ['east/shop/frontend']);
  assert.equal(r.denied.byEvaluationError, 1);
});

test('an isolated cluster is noted on the paths that touch it', () => {
  const r = report(policy('demo.cedar'), { isolated: ['west'] });
  assert.equal(r.allowed.length, 1);
  assert.ok(r.clusters.find((c) => c.name === 'west')!.isolated);
  assert.ok(r.notes.some((n) => n.includes('isolated cluster (west)')));
});

test('the Markdown report lists the paths, the boundaries and how they were derived', () => {
  const markdown = renderReport(report(policy('demo.cedar')), 'markdown');
  assert.match(markdown, /^## Allowed cross-cluster paths \(1\)$/m);
  assert.match(markdown, /^- east\/shop\/frontend → west\/billing \(GET, classification confidential\) via policy east-frontend-reads-billing$/m);
  assert.match(markdown, /^\| east \| west \| 3 \| 1 \|$/m);
  assert.match(markdown, /services from fixture/);
  const json = JSON.parse(renderReport(report(policy('demo.cedar')), 'json')) as { kind: string };
  assert.equal(json.kind, 'trust-boundaries');
});
