/**
 * Policy decision latency: plain cedar-wasm against Interlock's PDP.
 *
 *   node --import tsx bench/policy/run.ts [--budget-ms 2000] [--sizes 10,1000,10000]
 *
 * For each policy-set size it measures, on the same requests:
 *   cedar text       isAuthorized with the policy text: what a peer that
 *                    hands Cedar its policies on every call pays (baseline)
 *   cedar preparsed  statefulIsAuthorized on the whole set, preparsed once
 *   pdp uncached     PolicyDecisionPoint with cacheSize 0: slicing and
 *                    request pruning only
 *   pdp cached       PolicyDecisionPoint, cache warmed with the requests
 *
 * Each measurement runs for a time budget (default 2 s) after a warm-up.
 * Results are for comparison on one machine, never thresholds: tests do
 * not time anything. Numbers and how to read them: docs/performance.md.
 */
import { cpus } from 'node:os';
import { performance } from 'node:perf_hooks';
import { getCedarVersion, isAuthorized, preparsePolicySet, statefulIsAuthorized } from '@cedar-policy/cedar-wasm/nodejs';
import { parsePolicies } from '../../src/policy/compile.ts';
import { toCedarRequest } from '../../src/policy/entities.ts';
import { PolicyDecisionPoint } from '../../src/policy/pdp.ts';
import type { PolicyRequest } from '../../src/policy/pdp.ts';
import { generatePolicySet } from './generate.ts';

interface Result {
  size: number;
  variant: string;
  p50: number;
  p99: number;
  perSecond: number;
  samples: number;
}

function option(name: string, fallback: string): string {
  const at = process.argv.indexOf(name);
  return at >= 0 && process.argv[at + 1] !== undefined ? (process.argv[at + 1] as string) : fallback;
}

const BUDGET_MS = Number(option('--budget-ms', '2000'));
const SIZES = option('--sizes', '10,1000,10000').split(',').map(Number);
const MAX_SAMPLES = 200_000;

/**
 * Calls `decide` round-robin over `requests` for the budget; per-call
 * latencies in µs. `warmAll` first decides every request once, so the PDPs
 * are measured in steady state: slices preparsed, and (cached) every
 * request's decision in the cache.
 */
function measure(requests: readonly PolicyRequest[], decide: (req: PolicyRequest) => unknown, warmAll: boolean): { p50: number; p99: number; perSecond: number; samples: number } {
  if (warmAll) for (const req of requests) decide(req);
  const warmUntil = performance.now() + Math.min(300, BUDGET_MS / 5);
  for (let i = 0; performance.now() < warmUntil || i < 3; i++) decide(requests[i % requests.length] as PolicyRequest);
  const samples: number[] = [];
  const start = performance.now();
  const end = start + BUDGET_MS;
  for (let i = 0; (performance.now() < end || samples.length < 5) && samples.length < MAX_SAMPLES; i++) {
    const req = requests[i % requests.length] as PolicyRequest;
    const t0 = performance.now();
    decide(req);
    samples.push((performance.now() - t0) * 1000);
  }
  const elapsed = performance.now() - start;
  samples.sort((a, b) => a - b);
  const pick = (q: number) => samples[Math.min(samples.length - 1, Math.floor(q * samples.length))] as number;
  return { p50: pick(0.5), p99: pick(0.99), perSecond: samples.length / (elapsed / 1000), samples: samples.length };
}

function run(): void {
  const results: Result[] = [];
  const notes: string[] = [];
  for (const size of SIZES) {
    const set = generatePolicySet(size);
    const t0 = performance.now();
    const compiled = parsePolicies(set.text, `generated-${size}.cedar`);
    const t1 = performance.now();
    const pdp = new PolicyDecisionPoint(compiled, undefined, {});
    const uncached = new PolicyDecisionPoint(compiled, undefined, { cacheSize: 0 });
    const t2 = performance.now();
    notes.push(`${size} policies: parsePolicies ${(t1 - t0).toFixed(0)} ms, two PDPs built ${(t2 - t1).toFixed(0)} ms; ${set.requests.length} distinct requests`);

    const staticPolicies = Object.fromEntries(compiled.policies.map((p) => [p.id, p.text]));
    const preparsedId = `bench-${size}`;
    if (preparsePolicySet(preparsedId, { staticPolicies }).type !== 'success') throw new Error('preparse failed');
    const withTime = compiled.readsTime ? new Date() : undefined;

    const variants: Array<[string, (req: PolicyRequest) => unknown, boolean]> = [
      ['cedar text', (req) => isAuthorized({ ...toCedarRequest(req, withTime), policies: { staticPolicies } }), false],
      ['cedar preparsed', (req) => statefulIsAuthorized({ ...toCedarRequest(req, withTime), preparsedPolicySetId: preparsedId }), false],
      ['pdp uncached', (req) => uncached.decide(req), true],
      ['pdp cached', (req) => pdp.decide(req), true],
    ];
    for (const [variant, decide, warmAll] of variants) {
      const m = measure(set.requests, decide, warmAll);
      results.push({ size, variant, ...m });
      process.stderr.write(`  ${size} × ${variant}: done (${m.samples} samples)\n`);
    }
    // Sanity: the two PDPs and Cedar agree on every request (the equivalence test proves more).
    for (const req of set.requests.slice(0, 200)) {
      if (JSON.stringify(pdp.decide(req)) !== JSON.stringify(uncached.decide(req))) throw new Error('cached and uncached PDP disagree');
    }
    const s = pdp.stats();
    notes.push(`${size} policies: cache ${s.hits} hits / ${s.misses} misses, ${s.size} entries`);
  }

  const rows = results.map((r) => [String(r.size), r.variant, r.p50.toFixed(1), r.p99.toFixed(1), Math.round(r.perSecond).toLocaleString('en-US')]);
  const header = ['policies', 'variant', 'p50 µs', 'p99 µs', 'decisions/s'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => (row[i] as string).length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => (i < 2 ? c.padEnd(widths[i] as number) : c.padStart(widths[i] as number))).join(' | ')} |`;
  const cpu = cpus();
  process.stdout.write(`machine: ${cpu.length} × ${cpu[0]?.model ?? 'unknown cpu'}, node ${process.version}, cedar ${getCedarVersion()}, budget ${BUDGET_MS} ms per row\n\n`);
  process.stdout.write(`${line(header)}\n| ${widths.map((w, i) => (i < 2 ? '-'.repeat(w) : `${'-'.repeat(w - 1)}:`)).join(' | ')} |\n`);
  for (const row of rows) process.stdout.write(`${line(row)}\n`);
  process.stdout.write(`\n${notes.map((n) => `- ${n}`).join('\n')}\n`);
}

run();
