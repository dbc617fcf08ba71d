import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { isAuthorized, policyToJson } from '@cedar-policy/cedar-wasm/nodejs';
import type { PolicyJson } from '@cedar-policy/cedar-wasm/nodejs';
import { parsePolicies } from '../../src/policy/compile.ts';
import { toCedarRequest } from '../../src/policy/entities.ts';
import { PolicyDecisionPoint } from '../../src/policy/pdp.ts';
import type { PolicyRequest } from '../../src/policy/pdp.ts';
import { policyReadSet } from '../../src/policy/read-set.ts';
import { PolicySlicer } from '../../src/policy/slicing.ts';

const FRONTEND = 'spiffe://east.acme.internal/ns/shop/sa/frontend';
const REQUEST: PolicyRequest = {
  principal: { id: FRONTEND, trustDomain: 'east.acme.internal', cluster: 'east', namespace: 'shop', serviceAccount: 'frontend' },
  resource: { cluster: 'west', service: 'billing' },
  context: { method: 'GET', path: '/invoices/42', sourceCluster: 'east' },
};

function cedar(text: string) {
  const answer = isAuthorized({ ...toCedarRequest(REQUEST, undefined), policies: { staticPolicies: text } });
  assert.equal(answer.type, 'success');
  return answer.type === 'success' ? answer.response : undefined;
}

function json(text: string): PolicyJson {
  const answer = policyToJson(text);
  assert.equal(answer.type, 'success');
  return (answer as { json: PolicyJson }).json;
}

describe('cedar-wasm checks the scope before the conditions (what slicing relies on)', () => {
  // Each forbid would error if its condition ran; none matches the request by scope.
  const outOfScope = [
    'forbid (principal == Interlock::Workload::"spiffe://east.acme.internal/ns/shop/sa/other", action, resource) when { context.nosuch };',
    'forbid (principal, action, resource == Interlock::Service::"west/payroll") when { context.nosuch };',
    'forbid (principal == Interlock::Service::"west/billing", action, resource) when { context.method > 1 };',
    'forbid (principal, action == Interlock::Action::"other", resource) unless { principal.nosuch };',
    'forbid (principal is Interlock::Service, action, resource) when { context.nosuch };',
    'forbid (principal in Interlock::Group::"admins", action, resource) when { context.nosuch };',
  ];
  for (const text of outOfScope) {
    it(`neither satisfies nor errors: ${text.slice(0, 70)}…`, () => {
      assert.deepEqual(cedar(`permit (principal, action, resource);\n${text}`), {
        decision: 'allow',
        diagnostics: { reason: ['policy0'], errors: [] },
      });
    });
  }

  it('does evaluate (and error on) the same condition when the scope matches', () => {
    const response = cedar(`permit (principal, action, resource);
      forbid (principal == Interlock::Workload::"${FRONTEND}", action, resource) when { context.nosuch };`);
    assert.equal(response?.diagnostics.errors[0]?.policyId, 'policy1');
  });
});

describe('policyReadSet', () => {
  it('collects the context attributes a policy reads, through has, like, methods and sets', () => {
    const reads = policyReadSet(json(`permit (principal, action, resource) when {
      context has purpose && context.path like "/a/*" && context.time.toTime() < duration("9h") && ["GET", "HEAD"].contains(context.method) };`));
    assert.deepEqual(reads.context, new Set(['purpose', 'path', 'time', 'method']));
    assert.equal(reads.principalEntity, false);
    assert.equal(reads.resourceEntity, false);
  });

  it('treats the context used as a value as reading all of it', () => {
    assert.equal(policyReadSet(json('permit (principal, action, resource) when { context == {} };')).context, 'all');
  });

  it('notes entity reads: attributes, ancestors, and anything reached through a non-variable', () => {
    const attr = policyReadSet(json('permit (principal, action, resource) when { principal.namespace == "shop" };'));
    assert.deepEqual([attr.principalEntity, attr.resourceEntity], [true, false]);
    const scope = policyReadSet(json('permit (principal, action, resource in Interlock::Zone::"z");'));
    assert.deepEqual([scope.principalEntity, scope.resourceEntity], [false, true]);
    const literal = policyReadSet(json('permit (principal, action, resource) when { Interlock::Service::"west/billing".name == "b" };'));
    assert.deepEqual([literal.principalEntity, literal.resourceEntity], [true, true]);
    const uidOnly = policyReadSet(json(`permit (principal is Interlock::Workload, action, resource) when { principal == Interlock::Workload::"${FRONTEND}" };`));
    assert.deepEqual([uidOnly.principalEntity, uidOnly.resourceEntity], [false, false]);
  });
});

describe('PolicySlicer', () => {
  const text = `
    @id("frontend-billing") permit (principal == Interlock::Workload::"${FRONTEND}", action, resource == Interlock::Service::"west/billing");
    @id("frontend-any") permit (principal == Interlock::Workload::"${FRONTEND}", action, resource) when { context.method == "GET" };
    @id("billing-any") forbid (principal, action, resource == Interlock::Service::"west/billing") when { context.path like "/admin/*" };
    @id("other-pair") permit (principal == Interlock::Workload::"spiffe://x/ns/a/sa/b", action, resource == Interlock::Service::"west/ledger");
    @id("catch-all") forbid (principal in Interlock::Group::"quarantined", action, resource);`;

  it('slices by principal and resource, keeping catch-alls and source order', () => {
    const slicer = new PolicySlicer(parsePolicies(text, 't.cedar'), 100);
    const ids = (p: string, r: string) => slicer.sliceFor(p, r).policies.map((x) => x.id);
    assert.deepEqual(ids(FRONTEND, 'west/billing'), ['frontend-billing', 'frontend-any', 'billing-any', 'catch-all']);
    assert.deepEqual(ids(FRONTEND, 'west/ledger'), ['frontend-any', 'catch-all']);
    assert.deepEqual(ids('spiffe://unknown/ns/a/sa/b', 'west/billing'), ['billing-any', 'catch-all']);
    assert.deepEqual(ids('spiffe://unknown/ns/a/sa/b', 'east/other'), ['catch-all']);
    // The slice reads only what its policies read.
    assert.deepEqual(slicer.sliceFor(FRONTEND, 'west/ledger').shape.contextFields, ['method']);
  });

  it('shares slices for unnamed principals and stops slicing past maxSlices', () => {
    const slicer = new PolicySlicer(parsePolicies(text, 't.cedar'), 2);
    const a = slicer.sliceFor('spiffe://u1/ns/a/sa/b', 'east/x');
    assert.equal(slicer.sliceFor('spiffe://u2/ns/a/sa/b', 'east/y'), a);
    slicer.sliceFor(FRONTEND, 'west/billing');
    assert.equal(slicer.sliceFor(FRONTEND, 'west/ledger'), slicer.full);
    assert.equal(slicer.full.policies.length, 5);
  });

  it('decides the same past the slice limit, from the whole set', () => {
    const compiled = parsePolicies(text, 't.cedar');
    const sliced = new PolicyDecisionPoint(compiled, undefined, { cacheSize: 0 });
    const whole = new PolicyDecisionPoint(compiled, undefined, { cacheSize: 0, maxSlices: 0 });
    for (const path of ['/invoices/1', '/admin/x']) {
      const req = { ...REQUEST, context: { ...REQUEST.context, path } };
      assert.deepEqual(sliced.decide(req), whole.decide(req));
    }
    assert.deepEqual(sliced.decide(REQUEST).policyIds, ['frontend-billing', 'frontend-any']);
  });
});
