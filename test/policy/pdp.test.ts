import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isAuthorized } from '@cedar-policy/cedar-wasm/nodejs';
import { fixedClock } from '../../src/clock.ts';
import type { Clock } from '../../src/clock.ts';
import { InterlockError } from '../../src/errors.ts';
import { toCedarRequest } from '../../src/policy/entities.ts';
import { PolicyDecisionPoint, loadPolicyFile, parsePolicies } from '../../src/policy/pdp.ts';
import type { PolicyRequest } from '../../src/policy/pdp.ts';

const DEMO = fileURLToPath(new URL('../../examples/policies/demo.cedar', import.meta.url));
const FRONTEND = 'spiffe://east.acme.internal/ns/shop/sa/frontend';

const PERMIT_READS = `
@id("east-frontend-reads-billing")
permit (
  principal == Interlock::Workload::"${FRONTEND}",
  action == Interlock::Action::"call",
  resource == Interlock::Service::"west/billing"
) when { context.method == "GET" };
`;

function request(overrides: { id?: string; sa?: string; namespace?: string | undefined; method?: string; service?: string } = {}): PolicyRequest {
  const sa = overrides.sa ?? 'frontend';
  const namespace = 'namespace' in overrides ? overrides.namespace : 'shop';
  return {
    principal: {
      id: overrides.id ?? `spiffe://east.acme.internal/ns/${namespace ?? 'none'}/sa/${sa}`,
      trustDomain: 'east.acme.internal',
      cluster: 'east',
      ...(namespace === undefined ? {} : { namespace }),
      serviceAccount: sa,
    },
    resource: { cluster: 'west', service: overrides.service ?? 'billing' },
    context: { method: overrides.method ?? 'GET', path: '/invoices/42', sourceCluster: 'east' },
  };
}

function pdpFor(text: string, clock: Clock = fixedClock('2029-06-01T00:00:00Z')): PolicyDecisionPoint {
  return new PolicyDecisionPoint(parsePolicies(text, 'test.cedar'), clock);
}

/** What Cedar itself answers for the same request, without the PDP's fail-closed layer. */
function rawCedar(text: string, req: PolicyRequest) {
  const answer = isAuthorized({ ...toCedarRequest(req, undefined), policies: { staticPolicies: text } });
  assert.equal(answer.type, 'success');
  return answer.type === 'success' ? answer.response : undefined;
}

function assertInvalid(fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof InterlockError);
    assert.equal(err.code, 'IL_ERR_POLICY_INVALID');
    assert.match(err.message, pattern);
    return true;
  });
}

describe('PolicyDecisionPoint', () => {
  it('allows the permitted GET and names the permit', () => {
    const decision = pdpFor(PERMIT_READS).decide(request());
    assert.deepEqual(decision, {
      allowed: true,
      policyIds: ['east-frontend-reads-billing'],
      reason: 'allowed by east-frontend-reads-billing',
    });
  });

  it('denies a POST by default with IL_ERR_POLICY_DENIED', () => {
    const decision = pdpFor(PERMIT_READS).decide(request({ method: 'POST' }));
    assert.deepEqual(decision, {
      allowed: false,
      policyIds: [],
      reason: 'no policy permits this call (default deny)',
      errorCode: 'IL_ERR_POLICY_DENIED',
    });
  });

  it('denies another workload and another service', () => {
    const pdp = pdpFor(PERMIT_READS);
    const intruder = pdp.decide(request({ sa: 'intruder' }));
    assert.equal(intruder.allowed, false);
    assert.equal(intruder.errorCode, 'IL_ERR_POLICY_DENIED');
    assert.equal(pdp.decide(request({ service: 'payroll' })).allowed, false);
  });

  it('lets a forbid override a permit and reports the forbid', () => {
    const text = `${PERMIT_READS}
      @id("quarantine")
      forbid (principal, action, resource) when { principal.namespace == "shop" };`;
    assert.deepEqual(pdpFor(text).decide(request()), {
      allowed: false,
      policyIds: ['quarantine'],
      reason: 'forbidden by quarantine',
      errorCode: 'IL_ERR_POLICY_DENIED',
    });
  });

  it('fails closed when a permit errors, although Cedar alone would allow', () => {
    const text = `${PERMIT_READS}
      @id("broken") permit (principal, action, resource) when { context.nosuch == 1 };`;
    // Cedar skips the erroring policy and allows on the other one.
    assert.equal(rawCedar(text, request())?.decision, 'allow');

    const decision = pdpFor(text).decide(request());
    assert.equal(decision.allowed, false);
    assert.equal(decision.errorCode, 'IL_ERR_POLICY_EVALUATION_FAILED');
    assert.deepEqual(decision.policyIds, ['broken']);
    assert.match(decision.reason, /^evaluation error in policy broken: .*nosuch/);
  });

  it('fails closed when a forbid has a type error, instead of skipping the forbid', () => {
    const text = `${PERMIT_READS}
      @id("typed") forbid (principal, action, resource) when { context.method > 1 };`;
    assert.equal(rawCedar(text, request())?.decision, 'allow');

    const decision = pdpFor(text).decide(request());
    assert.equal(decision.allowed, false);
    assert.equal(decision.errorCode, 'IL_ERR_POLICY_EVALUATION_FAILED');
    assert.deepEqual(decision.policyIds, ['typed']);
  });

  it('blocks only the calls a broken policy applies to', () => {
    const text = `${PERMIT_READS}
      @id("broken") forbid (principal, action, resource == Interlock::Service::"west/payroll") when { context.nosuch };`;
    const pdp = pdpFor(text);
    assert.equal(pdp.decide(request()).allowed, true);
    assert.equal(pdp.decide(request({ service: 'payroll' })).errorCode, 'IL_ERR_POLICY_EVALUATION_FAILED');
  });

  it('omits absent namespace: reading it fails closed, `has` tells the cases apart', () => {
    const reads = pdpFor('@id("ns") permit (principal, action, resource) when { principal.namespace != "kube-system" };');
    const noNamespace = reads.decide(request({ namespace: undefined }));
    assert.equal(noNamespace.allowed, false);
    assert.equal(noNamespace.errorCode, 'IL_ERR_POLICY_EVALUATION_FAILED');
    assert.equal(reads.decide(request()).allowed, true);

    const guarded = pdpFor('permit (principal, action, resource) when { !(principal has namespace) };');
    assert.equal(guarded.decide(request({ namespace: undefined })).allowed, true);
    assert.equal(guarded.decide(request()).allowed, false);
  });

  it('exposes resource and principal attributes to policies', () => {
    const pdp = pdpFor(`permit (principal, action, resource is Interlock::Service)
      when { resource.cluster == "west" && resource.name == "billing" && principal.cluster == context.sourceCluster
             && principal.trustDomain == "east.acme.internal" && principal.serviceAccount == "frontend" };`);
    assert.equal(pdp.decide(request()).allowed, true);
    assert.equal(pdp.decide(request({ service: 'payroll' })).allowed, false);
  });

  it('exposes resource.classification and context.purpose, leaving them out when absent', () => {
    const text = '@id("classified") permit (principal, action, resource) when { resource.classification == "confidential" && context.purpose == "audit" };';
    const classified = { ...request(), resource: { cluster: 'west', service: 'billing', classification: 'confidential' } };
    const withPurpose = { ...classified, context: { ...classified.context, purpose: 'audit' } };
    assert.equal(pdpFor(text).decide(withPurpose).allowed, true);
    // Absent means absent, not "": reading it is an evaluation error, so a deny.
    const noPurpose = pdpFor(text).decide(classified);
    assert.equal(noPurpose.errorCode, 'IL_ERR_POLICY_EVALUATION_FAILED');
    assert.match(noPurpose.reason, /does not have the attribute `purpose`/);
    const guarded = pdpFor('permit (principal, action, resource) when { !(context has purpose) && !(resource has classification) };');
    assert.equal(guarded.decide(request()).allowed, true);
    assert.equal(guarded.decide(withPurpose).allowed, false);
  });

  it('gives policies the clock as context.time', () => {
    const clock = fixedClock('2029-12-31T23:59:59Z');
    const pdp = pdpFor('@id("until-2030") permit (principal, action, resource) when { context.time < datetime("2030-01-01") };', clock);
    assert.equal(pdp.decide(request()).allowed, true);
    clock.set('2030-01-01T00:00:00Z');
    assert.equal(pdp.decide(request()).allowed, false);
  });

  it('lists several determining policies in source order on every call', () => {
    const names = ['zeta', 'alpha', 'mid', 'beta', 'omega', 'gamma'];
    const pdp = pdpFor(names.map((n) => `@id("${n}") permit (principal, action, resource);`).join('\n'));
    // Cedar's own order is random per call; 20 tries would catch it leaking.
    for (let i = 0; i < 20; i++) assert.deepEqual(pdp.decide(request()).policyIds, names);
  });

  it('keeps policy sets of different PDPs apart', () => {
    const allowAll = pdpFor('@id("all") permit (principal, action, resource);');
    const denyAll = pdpFor('@id("none") forbid (principal, action, resource);');
    assert.equal(allowAll.decide(request()).allowed, true);
    assert.equal(denyAll.decide(request()).reason, 'forbidden by none');
    assert.equal(allowAll.decide(request()).allowed, true);
  });

  it('never throws: a malformed request or a broken clock is an evaluation failure', () => {
    const pdp = pdpFor(PERMIT_READS);
    const malformed = pdp.decide({ principal: { id: FRONTEND } } as unknown as PolicyRequest);
    assert.equal(malformed.errorCode, 'IL_ERR_POLICY_EVALUATION_FAILED');
    assert.match(malformed.reason, /principal\.trustDomain must be a string/);

    const broken = { now: (): Date => { throw new Error('clock unplugged'); } };
    const timed = pdpFor('permit (principal, action, resource) when { context.time > datetime("2000-01-01") };', broken);
    const decision = timed.decide(request());
    assert.equal(decision.allowed, false);
    assert.equal(decision.errorCode, 'IL_ERR_POLICY_EVALUATION_FAILED');
    assert.match(decision.reason, /clock unplugged/);
  });
});

describe('parsePolicies', () => {
  it('reports source:line:col for malformed Cedar, counting characters not bytes', () => {
    const text = '// Ünïcödé comment\n@id("x")\npermit (principal, action, resource) when { context.method == };\n';
    assertInvalid(() => parsePolicies(text, 'bad.cedar'), /^bad\.cedar:3:63: unexpected token `}`/);
    try {
      parsePolicies(text, 'bad.cedar');
    } catch (err) {
      assert.equal((err as InterlockError).field, 'bad.cedar');
    }
  });

  it('uses Cedar policyN ids where @id is missing, matching Cedar even past policy9', () => {
    const lines = Array.from({ length: 12 }, (_, i) =>
      i === 3 ? '@id("named") forbid (principal, action, resource) when { context.method == "DELETE" };'
        : `permit (principal == Interlock::Workload::"spiffe://east.acme.internal/ns/shop/sa/w${i}", action, resource);`);
    const text = lines.join('\n');
    const compiled = parsePolicies(text, 'many.cedar');
    assert.deepEqual(compiled.policies.map((p) => p.id).slice(9), ['policy9', 'policy10', 'policy11']);
    assert.equal(compiled.policies[3]?.id, 'named');
    assert.equal(compiled.policies[10]?.line, 11);

    const req = request({ id: 'spiffe://east.acme.internal/ns/shop/sa/w10' });
    assert.deepEqual(rawCedar(text, req)?.diagnostics.reason, ['policy10']);
    assert.deepEqual(new PolicyDecisionPoint(compiled).decide(req).policyIds, ['policy10']);
    assert.deepEqual(new PolicyDecisionPoint(compiled).decide({ ...req, context: { ...req.context, method: 'DELETE' } }).policyIds, ['named']);
  });

  it('rejects duplicate ids, empty @id and templates', () => {
    assertInvalid(
      () => parsePolicies('@id("a") permit (principal, action, resource);\n@id("a") forbid (principal, action, resource);', 'dup.cedar'),
      /^dup\.cedar:2:1: duplicate policy id "a" \(first used at 1:1\)/,
    );
    assertInvalid(() => parsePolicies('permit (principal, action, resource);\n@id("policy0") permit (principal, action, resource);', 'clash.cedar'), /duplicate policy id "policy0"/);
    assertInvalid(() => parsePolicies('@id permit (principal, action, resource);', 'empty.cedar'), /^empty\.cedar:1:1: @id needs a non-empty name/);
    assertInvalid(() => parsePolicies('permit (principal == ?principal, action, resource);', 'tpl.cedar'), /templates/);
  });
});

describe('loadPolicyFile', () => {
  it('reports a missing file as IL_ERR_CONFIG_NOT_FOUND naming the path', async () => {
    const path = join(tmpdir(), 'interlock-no-such-dir', 'missing.cedar');
    await assert.rejects(loadPolicyFile(path), (err: unknown) => {
      assert.ok(err instanceof InterlockError);
      assert.equal(err.code, 'IL_ERR_CONFIG_NOT_FOUND');
      assert.equal(err.field, path);
      return true;
    });
  });

  it('reports bad Cedar in a file as IL_ERR_POLICY_INVALID at path:line:col', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'interlock-policy-'));
    const path = join(dir, 'bad.cedar');
    await writeFile(path, 'permit (principal, action, resource)\nwhen { context.path like };\n');
    await assert.rejects(loadPolicyFile(path), (err: unknown) => {
      assert.ok(err instanceof InterlockError);
      assert.equal(err.code, 'IL_ERR_POLICY_INVALID');
      assert.ok(err.message.startsWith(`${path}:2:`), err.message);
      return true;
    });
  });

  it('loads the demo example, which lets only the frontend GET billing', async () => {
    const pdp = new PolicyDecisionPoint(await loadPolicyFile(DEMO));
    assert.deepEqual(pdp.decide(request()).policyIds, ['east-frontend-reads-billing']);
    assert.equal(pdp.decide(request()).allowed, true);
    assert.equal(pdp.decide(request({ method: 'POST' })).errorCode, 'IL_ERR_POLICY_DENIED');
    assert.equal(pdp.decide(request({ sa: 'checkout' })).allowed, false);
    assert.equal(pdp.decide(request({ service: 'ledger' })).allowed, false);
  });
});
