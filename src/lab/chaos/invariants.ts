import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { findAuditLogs, verifyAuditLog } from '../../audit/verify.ts';
import { verifyRemoteChain } from '../../client/audit.ts';
import { scanForCanaries } from '../canary.ts';
import type { ServedRequest } from '../sample-service.ts';
import { searchCapture } from '../wire-capture.ts';
import type { LabWorld } from '../world.ts';
import { DENIED_PATH_MARK, type LoadRecord } from './load.ts';
import type { InvariantResult } from './types.ts';

/**
 * The invariants every chaos experiment is held to, whatever its fault.
 * Each returns a verdict and the evidence, for the JSON and Markdown result.
 */

const list = (items: readonly string[], max = 5) => items.slice(0, max).join('; ') + (items.length > max ? `; … ${items.length - max} more` : '');

/** No request the policy denies was answered 2xx, and no denied probe ever reached the service. */
export function policyInvariant(records: readonly LoadRecord[], served: readonly ServedRequest[]): InvariantResult {
  const denied = records.filter((r) => r.kind === 'denied');
  const accepted = denied.filter((r) => r.status >= 200 && r.status < 300).map((r) => `${r.workload} ${r.method} ${r.path} → ${r.status}`);
  const reached = served.filter((s) => s.path.includes(DENIED_PATH_MARK)).map((s) => `service served ${s.method} ${s.path} for ${s.caller}`);
  const problems = [...(accepted.length ? [`${accepted.length} denied request(s) accepted: ${list(accepted, 3)}`] : []), ...(reached.length ? [`${reached.length} reached the service: ${list(reached, 3)}`] : [])];
  return {
    name: 'policy',
    ok: problems.length === 0 && denied.length > 0,
    detail: denied.length === 0 ? 'no denied probe was sent: nothing shows the policy held' : problems.length ? problems.join('. ') : `${denied.length} denied probes, none answered 2xx, none reached the service`,
  };
}

/** No canary marker in plaintext in the capture of the inter-cluster link. */
export function wireInvariant(captureFile: string | null): InvariantResult {
  if (!captureFile) return { name: 'wire', ok: true, detail: 'not checked: the loopback lab has no inter-cluster interface (run with --netns as root)' };
  const report = searchCapture(captureFile);
  if (report.packets === 0) return { name: 'wire', ok: false, detail: 'the capture holds no packet: nothing shows the traffic was encrypted' };
  return {
    name: 'wire',
    ok: report.findings.length === 0,
    detail: report.findings.length
      ? `canary marker in plaintext on the wire: ${list(report.findings.map((f) => `${f.source}: …${f.excerpt}…`))}`
      : `${report.packets} packets, ${report.bytes} payload bytes in ${report.tcpFlows} TCP flows captured; no marker`,
  };
}

interface AuditLine {
  readonly seq: number;
  readonly type: string;
  readonly data: Record<string, unknown>;
}

function readAudit(path: string): AuditLine[] {
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as AuditLine);
}

/**
 * Every audit chain verifies (each gateway's file, and the control plane's
 * read through its API), and every request a gateway answered has its
 * records: the calling gateway's `call.outbound` and, when the answer names
 * one, the receiving gateway's `policy.decision`, both with its trace id.
 */
export async function auditInvariant(world: LabWorld, records: readonly LoadRecord[], from = 'east'): Promise<InvariantResult> {
  const problems: string[] = [];
  const files = findAuditLogs(world.dir);
  for (const path of files) {
    const result = verifyAuditLog(path);
    if (!result.ok) problems.push(`${path}: record ${result.badSeq}: ${result.reason}`);
  }
  try {
    const cp = await verifyRemoteChain(world.controlPlane.admin, 'control-plane');
    if (!cp.ok) problems.push(`control plane chain: record ${cp.badSeq}: ${cp.reason}`);
  } catch (error) {
    problems.push(`control plane chain could not be read: ${(error as Error).message}`);
  }
  const byCluster = new Map([...world.clusters.values()].map((c) => [c.name, readAudit(c.gateway.auditPath)]));
  const outboundTraces = new Set((byCluster.get(from) ?? []).filter((r) => r.type === 'call.outbound').map((r) => String(r.data.traceId)));
  const answered = records.filter((r) => r.status > 0);
  for (const r of answered) {
    if (!outboundTraces.has(r.traceId)) problems.push(`no call.outbound record in ${from} for ${r.method} ${r.path} (trace ${r.traceId})`);
    if (!r.auditRef) continue;
    const [cluster, seq] = r.auditRef.split(':');
    const decision = byCluster.get(cluster!)?.find((line) => line.seq === Number(seq));
    if (!decision || decision.type !== 'policy.decision' || decision.data.traceId !== r.traceId) problems.push(`audit ref ${r.auditRef} of ${r.method} ${r.path} is not its decision (trace ${r.traceId})`);
  }
  const withRefs = answered.filter((r) => r.auditRef).length;
  return {
    name: 'audit',
    ok: problems.length === 0,
    detail: problems.length ? list(problems) : `${files.length} gateway chains and the control plane chain verify; ${answered.length} answered requests all have their call.outbound record, ${withRefs} their policy.decision`,
  };
}

function filesUnder(dir: string, suffixes: readonly string[]): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return filesUnder(path, suffixes);
    return suffixes.some((s) => name.endsWith(s)) ? [path] : [];
  });
}

async function scrape(url: string): Promise<string> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(3_000) });
    return await response.text();
  } catch (error) {
    return `# scrape of ${url} failed: ${(error as Error).message}`;
  }
}

/** Test data policy: no canary marker in a log, an audit record or a metrics exposition (labels included). */
export async function testDataInvariant(world: LabWorld): Promise<InvariantResult> {
  const files = filesUnder(world.dir, ['.log', '.jsonl']);
  const metrics = await Promise.all([
    ...[...world.clusters.values()].map(async (c) => ({ name: `metrics ${c.name} gateway`, content: await scrape(`http://${c.gateway.admin.host}:${c.gateway.admin.port}/metrics`) })),
    (async () => ({ name: 'metrics control plane', content: await scrape(`http://${world.controlPlane.metrics.host}:${world.controlPlane.metrics.port}/metrics`) }))(),
  ]);
  const findings = scanForCanaries([...files.map((path) => ({ name: path, content: readFileSync(path) })), ...metrics]);
  return {
    name: 'test-data',
    ok: findings.length === 0,
    detail: findings.length ? `canary marker found: ${list(findings.map((f) => `${f.source}: …${f.excerpt}…`))}` : `${files.length} log and audit files and ${metrics.length} metrics expositions scanned; no marker`,
  };
}

export interface Recovery {
  readonly firstSuccessMs: number | null;
  readonly recoveryMs: number | null;
}

/** From the fault clearing: the first allowed success, and the first of `run` successes in a row (steady). */
export function measureRecovery(records: readonly LoadRecord[], clearedAt: number, run = 3): Recovery {
  const after = records.filter((r) => r.kind === 'allowed' && r.at >= clearedAt).sort((a, b) => a.at - b.at);
  const doneAt = (r: LoadRecord) => Math.max(0, r.at + r.ms - clearedAt);
  const first = after.find((r) => r.status === 200);
  let steady: LoadRecord | undefined;
  for (let i = 0; i + run <= after.length && !steady; i++) if (after.slice(i, i + run).every((r) => r.status === 200)) steady = after[i];
  return { firstSuccessMs: first ? doneAt(first) : null, recoveryMs: steady ? doneAt(steady) : null };
}

export function recoveryInvariant(recovery: Recovery, budgetMs: number): InvariantResult {
  const ok = recovery.recoveryMs !== null && recovery.recoveryMs <= budgetMs;
  return {
    name: 'recovery',
    ok,
    detail: recovery.recoveryMs === null ? `no steady success after the fault cleared (budget ${budgetMs} ms)` : `steady success ${recovery.recoveryMs} ms after the fault cleared (first success ${recovery.firstSuccessMs} ms; budget ${budgetMs} ms)`,
  };
}
