/**
 * The fast PDP (sliced, cached, pruned requests) must decide exactly as
 * plain Cedar does on the whole policy set, uncached. fast-check generates
 * policy sets and request sequences over a small universe, so slices share
 * policies, requests repeat (cache hits) and evaluation errors happen.
 * Reproduce a failure with FC_SEED=<seed printed by fast-check>.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { isAuthorized } from '@cedar-policy/cedar-wasm/nodejs';
import { fixedClock } from '../../src/clock.ts';
import { interpretAnswer } from '../../src/policy/decision.ts';
import { toCedarRequest } from '../../src/policy/entities.ts';
import { PolicyDecisionPoint, parsePolicies } from '../../src/policy/pdp.ts';
import type { CompiledPolicies, PdpOptions, PolicyDecision, PolicyRequest } from '../../src/policy/pdp.ts';

const SETS = 200;
const REQUESTS_PER_SET = 50;

const PRINCIPALS: PolicyRequest['principal'][] = [
  { id: 'spiffe://east.acme.internal/ns/shop/sa/frontend', trustDomain: 'east.acme.internal', cluster: 'east', namespace: 'shop', serviceAccount: 'frontend' },
  { id: 'spiffe://east.acme.internal/ns/shop/sa/checkout', trustDomain: 'east.acme.internal', cluster: 'east', namespace: 'shop', serviceAccount: 'checkout' },
  { id: 'spiffe://west.acme.internal/ns/billing/sa/api', trustDomain: 'west.acme.internal', cluster: 'west', namespace: 'billing', serviceAccount: 'api' },
  // No /ns/<ns>/sa/<sa>: namespace and serviceAccount are absent.
  { id: 'spiffe://east.acme.internal/legacy', trustDomain: 'east.acme.internal', cluster: 'east' },
];
const SERVICES: Array<[cluster: string, service: string]> = [['west', 'billing'], ['west', 'ledger'], ['east', 'catalog']];
const TIMES = ['2029-06-01T08:00:00Z', '2029-06-01T12:30:00Z', '2029-06-02T20:00:00Z'];

/** Scope entities: the universe, plus ones no request uses and one of the wrong type. */
const PRINCIPAL_UIDS = [...PRINCIPALS.map((p) => p.id), 'spiffe://evil.example/ns/x/sa/y'].map((id) => `Interlock::Workload::"${id}"`)
  .concat('Interlock::Service::"west/billing"');
const RESOURCE_UIDS = [...SERVICES.map(([c, s]) => `${c}/${s}`), 'west/payroll'].map((id) => `Interlock::Service::"${id}"`)
  .concat('Interlock::Workload::"west/billing"');

const ATOMS = [
  'context.method == "GET"', 'context.method == "POST"', 'context.method != "DELETE"',
  'context.path like "/admin/*"', 'context.path like "/invoices/*"', 'context.path == "/"',
  'context.purpose == "audit"', // errors when purpose is absent
  '(context has purpose && context.purpose == "billing")',
  'context has purpose',
  'resource.classification == "confidential"', // errors when unclassified
  '(resource has classification && ["confidential", "restricted"].contains(resource.classification))',
  'principal.namespace == "shop"', // errors for the legacy identity
  'principal has namespace',
  '(principal has serviceAccount && principal.serviceAccount like "front*")',
  'context.sourceCluster == principal.cluster',
  'resource.name like "b*"', 'resource.cluster == "west"', 'principal.trustDomain == "east.acme.internal"',
  'context.time < datetime("2029-06-01T12:00:00Z")',
  'context.time.toTime() >= duration("9h")',
  'context.method > 1', // a type error whenever evaluated
  'context.nosuch == 1',
  'principal in Interlock::Group::"admins"',
  'principal == Interlock::Workload::"spiffe://east.acme.internal/ns/shop/sa/frontend"',
  'resource is Interlock::Service',
  'context == {"method": "GET", "path": "/", "sourceCluster": "east"}', // the whole context as a value
  'Interlock::Service::"west/billing".classification == "public"', // errors unless the resource is west/billing
  '(if context.method == "GET" then principal else resource).cluster == "east"',
];

const atom = fc.constantFrom(...ATOMS);
const expr = fc.oneof(
  { arbitrary: atom, weight: 4 },
  { arbitrary: atom.map((a) => `!(${a})`), weight: 1 },
  { arbitrary: fc.tuple(atom, fc.constantFrom('&&', '||'), atom).map(([a, op, b]) => `(${a} ${op} ${b})`), weight: 2 },
);
const clause = fc.tuple(fc.constantFrom('when', 'unless'), expr).map(([kind, body]) => `${kind} { ${body} }`);

function scope(variable: string, uids: readonly string[]): fc.Arbitrary<string> {
  return fc.oneof(
    { arbitrary: fc.constant(variable), weight: 2 },
    { arbitrary: fc.constantFrom(...uids).map((uid) => `${variable} == ${uid}`), weight: 5 },
    { arbitrary: fc.constant(`${variable} in Interlock::Group::"admins"`), weight: 1 },
    { arbitrary: fc.constantFrom('Interlock::Workload', 'Interlock::Service').map((t) => `${variable} is ${t}`), weight: 1 },
  );
}

const policy = fc.record({
  named: fc.boolean(),
  effect: fc.constantFrom('permit', 'permit', 'forbid'),
  principal: scope('principal', PRINCIPAL_UIDS),
  action: fc.constantFrom('action', 'action == Interlock::Action::"call"', 'action == Interlock::Action::"other"', 'action in [Interlock::Action::"call"]'),
  resource: scope('resource', RESOURCE_UIDS),
  clauses: fc.array(clause, { maxLength: 2 }),
});

const policySet = fc.array(policy, { maxLength: 12 }).map((policies) =>
  policies.map((p, i) => `${p.named ? `@id("rule-${i}") ` : ''}${p.effect} (${p.principal}, ${p.action}, ${p.resource}) ${p.clauses.join(' ')};`).join('\n'));

const requestSpec = fc.record({
  principal: fc.constantFrom(...PRINCIPALS),
  service: fc.constantFrom(...SERVICES),
  classification: fc.constantFrom(undefined, 'public', 'confidential'),
  method: fc.constantFrom('GET', 'POST', 'DELETE'),
  path: fc.constantFrom('/', '/admin/users', '/invoices/42'),
  purpose: fc.constantFrom(undefined, 'audit', 'billing'),
  sourceCluster: fc.constantFrom('east', 'west'),
  time: fc.constantFrom(...TIMES),
});
type RequestSpec = typeof requestSpec extends fc.Arbitrary<infer T> ? T : never;

/** A pool of distinct requests and a longer sequence drawn from it, so requests repeat. */
const requestSequence = fc.array(requestSpec, { minLength: 1, maxLength: 15 }).chain((pool) =>
  fc.array(fc.nat(pool.length - 1), { minLength: REQUESTS_PER_SET, maxLength: REQUESTS_PER_SET }).map((picks) => picks.map((i) => pool[i] as RequestSpec)));

const pdpOptions = fc.constantFrom<PdpOptions>({}, {}, { maxSlices: 1 }, { maxSlices: 0 }, { cacheSize: 3 });

function toRequest(spec: RequestSpec): PolicyRequest {
  const [cluster, service] = spec.service;
  return {
    principal: spec.principal,
    resource: { cluster, service, ...(spec.classification === undefined ? {} : { classification: spec.classification }) },
    context: { method: spec.method, path: spec.path, sourceCluster: spec.sourceCluster, ...(spec.purpose === undefined ? {} : { purpose: spec.purpose }) },
  };
}

/** Plain Cedar: the whole set, parsed from text on every call, the whole request, no cache. */
function reference(compiled: CompiledPolicies, req: PolicyRequest, now: Date): PolicyDecision {
  const staticPolicies = Object.fromEntries(compiled.policies.map((p) => [p.id, p.text]));
  const answer = isAuthorized({ ...toCedarRequest(req, compiled.readsTime ? now : undefined), policies: { staticPolicies } });
  const order = new Map(compiled.policies.map((p, i) => [p.id, i]));
  return interpretAnswer(answer, order).decision;
}

describe('fast PDP ≡ plain Cedar', () => {
  it(`decides ${SETS * REQUESTS_PER_SET} generated requests over ${SETS} generated policy sets exactly as uncached, unsliced Cedar`, () => {
    const seen = { cases: 0, hits: 0, allowed: 0, forbidden: 0, failed: 0 };
    const seed = process.env['FC_SEED'];
    fc.assert(
      fc.property(policySet, requestSequence, pdpOptions, (text, specs, options) => {
        const compiled = parsePolicies(text, 'generated.cedar');
        const clock = fixedClock(TIMES[0] as string);
        const pdp = new PolicyDecisionPoint(compiled, clock, options);
        for (const spec of specs) {
          const req = toRequest(spec);
          clock.set(spec.time);
          const expected = reference(compiled, req, new Date(spec.time));
          const actual = pdp.decide(req);
          assert.deepEqual(actual, expected, `request ${JSON.stringify(spec)} with options ${JSON.stringify(options)}`);
          seen.cases++;
          if (expected.allowed) seen.allowed++;
          else if (expected.errorCode === 'IL_ERR_POLICY_EVALUATION_FAILED') seen.failed++;
          else if (expected.policyIds.length > 0) seen.forbidden++;
        }
        seen.hits += pdp.stats().hits;
      }),
      { numRuns: SETS, ...(seed === undefined ? {} : { seed: Number(seed) }) },
    );
    assert.ok(seen.cases >= 10_000, `${seen.cases} cases`);
    // The generators must reach every kind of outcome, and the cache must answer many.
    assert.ok(seen.allowed > 100 && seen.forbidden > 100 && seen.failed > 100, JSON.stringify(seen));
    assert.ok(seen.hits > 1000, JSON.stringify(seen));
  });
});
