import { isAuthorized } from '@cedar-policy/cedar-wasm/nodejs';
import { readFileSync } from 'node:fs';
import { PolicyDecisionPoint, parsePolicies } from '/work/main/src/policy/pdp.ts';
import { toCedarRequest } from '/work/main/src/policy/entities.ts';
import type { PolicyRequest } from '/work/main/src/policy/pdp.ts';

const demo = readFileSync('/work/main/examples/policies/demo.cedar', 'utf8');
let big = demo;
for (let i = 0; i < 20; i++) big += `\n@id("svc${i}") permit (principal, action == Interlock::Action::"call", resource == Interlock::Service::"west/svc${i}") when { principal.namespace == "ns${i}" && context.path like "/api/*" };`;
big += '\n@id("quarantine") forbid (principal, action, resource) when { principal.namespace == "quarantine" };';
const timeSet = demo + '\n@id("window") forbid (principal, action, resource) when { context.time < datetime("2000-01-01") };';

const req: PolicyRequest = {
  principal: { id: 'spiffe://east.acme.internal/ns/shop/sa/frontend', trustDomain: 'east.acme.internal', cluster: 'east', namespace: 'shop', serviceAccount: 'frontend' },
  resource: { cluster: 'west', service: 'billing' },
  context: { method: 'GET', path: '/invoices/42', sourceCluster: 'east' },
};
function bench(name: string, f: () => unknown, n = 30000) {
  for (let i = 0; i < 3000; i++) f();
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) f();
  console.log(name.padEnd(46), (Number(process.hrtime.bigint() - t0) / 1000 / n).toFixed(1), 'µs/decision');
}
for (const [label, text] of [['demo (1 policy)', demo], ['22 policies', big], ['demo + context.time', timeSet]] as const) {
  const pdp = new PolicyDecisionPoint(parsePolicies(text, label));
  const d = pdp.decide(req);
  if (!d.allowed) throw new Error(JSON.stringify(d));
  bench(`PDP preparsed, ${label}`, () => pdp.decide(req));
  bench(`isAuthorized(text) per call, ${label}`, () => isAuthorized({ ...toCedarRequest(req, undefined), policies: { staticPolicies: text } }), 10000);
}
