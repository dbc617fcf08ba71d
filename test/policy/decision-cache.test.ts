import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { fixedClock } from '../../src/clock.ts';
import { DecisionCache, decisionKey } from '../../src/policy/decision-cache.ts';
import { PolicyDecisionPoint, parsePolicies } from '../../src/policy/pdp.ts';
import type { PdpOptions, PolicyDecision, PolicyRequest } from '../../src/policy/pdp.ts';

const FRONTEND = 'spiffe://east.acme.internal/ns/shop/sa/frontend';

function request(context: Partial<PolicyRequest['context']> = {}, classification?: string): PolicyRequest {
  return {
    principal: { id: FRONTEND, trustDomain: 'east.acme.internal', cluster: 'east', namespace: 'shop', serviceAccount: 'frontend' },
    resource: { cluster: 'west', service: 'billing', ...(classification === undefined ? {} : { classification }) },
    context: { method: 'GET', path: '/invoices/42', sourceCluster: 'east', ...context },
  };
}

function pdp(text: string, options: PdpOptions = {}, clock = fixedClock('2029-06-01T10:00:00Z')): PolicyDecisionPoint {
  return new PolicyDecisionPoint(parsePolicies(text, 'cache.cedar'), clock, options);
}

const DENY: PolicyDecision = { allowed: false, policyIds: [], reason: 'no', errorCode: 'IL_ERR_POLICY_DENIED' };

describe('DecisionCache', () => {
  it('holds at most its capacity, evicting the least recently used', () => {
    const cache = new DecisionCache(2);
    cache.set('a', DENY);
    cache.set('b', DENY);
    assert.ok(cache.get('a')); // a is now newer than b
    cache.set('c', DENY);
    assert.equal(cache.get('b'), undefined);
    assert.ok(cache.get('a'));
    assert.ok(cache.get('c'));
    assert.deepEqual(cache.stats(), { hits: 3, misses: 0, size: 2 });
  });

  it('keys absent attributes apart from every string value', () => {
    const absent = decisionKey(request(), ['method', 'purpose']);
    assert.notEqual(absent, decisionKey(request({ purpose: '' }), ['method', 'purpose']));
    assert.notEqual(absent, decisionKey(request({ purpose: 'null' }), ['method', 'purpose']));
    assert.notEqual(decisionKey(request(), []), decisionKey(request({}, 'public'), []));
  });
});

describe('PolicyDecisionPoint cache', () => {
  const READS_METHOD = `@id("get") permit (principal == Interlock::Workload::"${FRONTEND}", action, resource) when { context.method == "GET" };`;

  it('answers a repeated call from the cache and counts hits and misses', () => {
    const p = pdp(READS_METHOD);
    const first = p.decide(request());
    assert.deepEqual(p.stats(), { hits: 0, misses: 1, size: 1 });
    assert.deepEqual(p.decide(request()), first);
    assert.deepEqual(p.stats(), { hits: 1, misses: 1, size: 1 });
  });

  it('keys only on context attributes the policies read: another path is a hit, another method a miss', () => {
    const p = pdp(READS_METHOD);
    p.decide(request());
    assert.equal(p.decide(request({ path: '/other' })).allowed, true);
    assert.equal(p.stats().hits, 1);
    assert.equal(p.decide(request({ method: 'POST' })).allowed, false);
    assert.deepEqual(p.stats(), { hits: 1, misses: 2, size: 2 });
  });

  it('stays within its bound', () => {
    const p = pdp('permit (principal, action, resource) when { context.path != "/" };', { cacheSize: 5 });
    for (let i = 0; i < 20; i++) p.decide(request({ path: `/p/${i}` }));
    assert.deepEqual(p.stats(), { hits: 0, misses: 20, size: 5 });
  });

  it('never caches a slice that reads context.time: the clock moving changes the decision', () => {
    const clock = fixedClock('2029-12-31T23:59:59Z');
    const p = pdp('@id("until-2030") permit (principal, action, resource) when { context.time < datetime("2030-01-01") };', {}, clock);
    assert.equal(p.decide(request()).allowed, true);
    clock.set('2030-01-01T00:00:00Z');
    assert.equal(p.decide(request()).allowed, false);
    assert.deepEqual(p.stats(), { hits: 0, misses: 2, size: 0 });
  });

  it('still caches calls whose slice does not read time, in a set where another policy does', () => {
    const p = pdp(`${READS_METHOD}
      @id("night") forbid (principal, action, resource == Interlock::Service::"west/ledger") when { context.time.toTime() > duration("22h") };`);
    p.decide(request());
    p.decide(request());
    assert.deepEqual(p.stats(), { hits: 1, misses: 1, size: 1 });
  });

  it('caches nothing with cacheSize 0', () => {
    const p = pdp(READS_METHOD, { cacheSize: 0 });
    p.decide(request());
    p.decide(request());
    assert.deepEqual(p.stats(), { hits: 0, misses: 2, size: 0 });
  });

  it('hands out copies, so a caller changing a decision cannot change the next one', () => {
    const p = pdp(READS_METHOD);
    p.decide(request()).policyIds.push('tampered');
    const again = p.decide(request());
    again.policyIds.push('tampered');
    assert.deepEqual(p.decide(request()).policyIds, ['get']);
  });

  it('does not cache malformed requests', () => {
    const p = pdp(READS_METHOD);
    const bad = { ...request(), context: { method: 'GET', path: '/', sourceCluster: 'east', purpose: 42 } } as unknown as PolicyRequest;
    assert.match(p.decide(bad).reason, /context\.purpose must be a string/);
    assert.deepEqual(p.stats(), { hits: 0, misses: 0, size: 0 });
  });
});
