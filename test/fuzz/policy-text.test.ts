import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import fc from 'fast-check';
import { PolicyDecisionPoint, parsePolicies, type PolicyRequest } from '../../src/policy/pdp.ts';
import { fixedClock } from '../../src/clock.ts';
import { anyString, mutatedText } from './mutate.ts';
import { coded, fuzz } from './harness.ts';

const EXAMPLES = new URL('../../examples/policies/', import.meta.url);
const policyFiles = readdirSync(EXAMPLES).filter((name) => name.endsWith('.cedar')).map((name) => readFileSync(new URL(name, EXAMPLES), 'utf8'));

/** Cedar's tokens, so random sequences of them get past the lexer and into the parser and the id logic. */
const TOKENS = [
  'permit', 'forbid', '(', ')', '{', '}', ';', ',', 'principal', 'action', 'resource', 'context', 'when', 'unless', '==', '!=', '<', '>=',
  'in', 'has', 'like', 'is', '&&', '||', '!', 'if', 'then', 'else', '.', '[', ']', '@id("a")', '@id("")', '@id("\\u0001")', '@id', '@x("y")',
  'Interlock::Workload::"spiffe://east.acme.internal/ns/shop/sa/frontend"', 'Interlock::Service::"west/billing"', 'Interlock::Action::"call"',
  '"GET"', '"*"', '42', '-9223372036854775808', 'datetime("2024-01-01")', 'ip("10.0.0.1")', 'decimal("1.5")', 'context.time', 'context.method',
  '?principal', '?resource', 'true', 'false', '\uFEFF', '/* c */', '// c\n', '\n', ' ', '\u00e9', '"\\u{1F600}"',
];
const tokenSoup = fc.array(fc.constantFrom(...TOKENS), { maxLength: 40 }).map((tokens) => tokens.join(' '));
/** One valid policy with fuzzed pieces in its scope and condition. */
const templated = fc.tuple(fc.constantFrom('permit', 'forbid'), fc.constantFrom(...TOKENS), fc.constantFrom(...TOKENS), fc.option(fc.string({ maxLength: 10 }))).map(
  ([effect, a, b, id]) => `${id === null ? '' : `@id(${JSON.stringify(id)})\n`}${effect} (principal, action, resource == ${a}) when { ${b} };`,
);

const texts = fc.oneof(
  fc.constantFrom(...policyFiles).chain((text) => mutatedText(text)),
  fc.constantFrom(...policyFiles).chain((text) => mutatedText(text, 'permit forbid(){};"@id=!&|.:')),
  tokenSoup,
  templated,
  fc.array(templated, { minLength: 2, maxLength: 12 }).map((policies) => policies.join('\n')),
  anyString,
);

fuzz('parsePolicies: any text is a policy set with unique ids in source order, or IL_ERR_POLICY_INVALID', [texts], async (text) => {
  await coded(() => parsePolicies(text, 'fuzz.cedar'), ['IL_ERR_POLICY_INVALID'], (compiled) => {
    const ids = compiled.policies.map((p) => p.id);
    assert.equal(new Set(ids).size, ids.length, 'ids are unique');
    assert.match(compiled.digest, /^sha256:[0-9a-f]{64}$/);
    let previousLine = 0;
    for (const policy of compiled.policies) {
      assert.ok(policy.line >= previousLine, 'source order');
      previousLine = policy.line;
      assert.ok(text.includes(policy.text), 'the policy text is a slice of the file');
    }
  });
}, {
  scale: 4,
  examples: [['@id("dup") permit (principal, action, resource); @id("dup") forbid (principal, action, resource);'], ['permit (principal == ?principal, action, resource);'], ['\uFEFF']],
});

const word = fc.oneof(fc.constantFrom('east', 'west', 'shop', 'frontend', 'billing', 'GET', 'POST', '', 'time'), fc.string({ maxLength: 12 }));
const requests: fc.Arbitrary<PolicyRequest> = fc.record({
  principal: fc.record({
    id: fc.oneof(fc.constant('spiffe://east.acme.internal/ns/shop/sa/frontend'), word.map((w) => `spiffe://east.acme.internal/ns/${w}/sa/x`), anyString),
    trustDomain: fc.oneof(fc.constant('east.acme.internal'), word),
    cluster: word,
    namespace: fc.option(word, { nil: undefined }),
    serviceAccount: fc.option(word, { nil: undefined }),
  }, { requiredKeys: ['id', 'trustDomain', 'cluster'] }),
  resource: fc.record({ cluster: word, service: word, classification: fc.option(fc.constantFrom('public', 'internal', 'confidential', 'restricted', ''), { nil: undefined }) }, { requiredKeys: ['cluster', 'service'] }),
  context: fc.record({ method: word, path: fc.oneof(fc.constant('/invoices/42'), anyString), sourceCluster: word, purpose: fc.option(word, { nil: undefined }) }, { requiredKeys: ['method', 'path', 'sourceCluster'] }),
});
const anyRequest = fc.oneof(requests, fc.anything().map((v) => v as PolicyRequest));

fuzz('PolicyDecisionPoint.decide: any policy set that parses decides any request (even malformed) without throwing', [fc.oneof(templated, fc.constantFrom(...policyFiles)), fc.array(anyRequest, { minLength: 1, maxLength: 8 })], async (text, batch) => {
  let pdp: PolicyDecisionPoint | undefined;
  await coded(() => {
    pdp = new PolicyDecisionPoint(parsePolicies(text, 'fuzz.cedar'), fixedClock(new Date('2025-06-01T12:00:00Z')));
  }, ['IL_ERR_POLICY_INVALID']);
  if (!pdp) return;
  for (const req of batch) {
    const decision = pdp.decide(req);
    assert.equal(typeof decision.allowed, 'boolean');
    assert.ok(Array.isArray(decision.policyIds) && typeof decision.reason === 'string');
    if (decision.allowed) assert.equal(decision.errorCode, undefined);
    else assert.ok(decision.errorCode === 'IL_ERR_POLICY_DENIED' || decision.errorCode === 'IL_ERR_POLICY_EVALUATION_FAILED', String(decision.errorCode));
    assert.deepEqual(pdp.decide(req), decision, 'the same request gets the same decision (cached or not)');
  }
}, { scale: 1 });
