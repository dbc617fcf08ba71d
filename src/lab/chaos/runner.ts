import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { InterlockError } from '../../errors.ts';
import { createCanary, type Canary } from '../canary.ts';
import { createNetnsTopology, HUB_BRIDGE, type NetnsTopology } from '../netns.ts';
import type { ServedRequest } from '../sample-service.ts';
import { startWireCapture, type WireCapture } from '../wire-capture.ts';
import { startLab, type LabWorld } from '../world.ts';
import { EXPERIMENTS } from './experiments/index.ts';
import { CHAOS_SVID_TTL } from './experiments/ttl.ts';
import { auditInvariant, measureRecovery, policyInvariant, recoveryInvariant, testDataInvariant, wireInvariant } from './invariants.ts';
import { startLoad, waitFor, type LoadGenerator } from './load.ts';
import { startLabPostgres, type LabPostgres } from './postgres.ts';
import { renderExperimentMarkdown, renderSummary } from './report.ts';
import type { ChaosExperiment, Check, ExperimentResult, InvariantResult, LabKind } from './types.ts';

export interface ChaosRunOptions {
  /** Experiment names, in the order to run them; all of them when empty. */
  readonly names?: readonly string[];
  /** Where `<name>.json`, `<name>.md` and `summary.md` go. */
  readonly out: string;
  /** Extra `interlock gateway` arguments per cluster (the broken-build proof uses this). */
  readonly gatewayArgs?: Readonly<Record<string, readonly string[]>>;
  /** Keep the lab folders and captures (default: removed). */
  readonly keep?: boolean;
  readonly log?: (line: string) => void;
}


interface Lab {
  readonly kind: LabKind;
  readonly world: LabWorld;
  readonly network: NetnsTopology;
  readonly served: ServedRequest[];
  readonly postgres: LabPostgres | undefined;
  close(): Promise<void>;
}

async function openLab(kind: LabKind, dir: string, options: ChaosRunOptions): Promise<Lab> {
  const network = createNetnsTopology(['east', 'west']);
  const served: ServedRequest[] = [];
  let postgres: LabPostgres | undefined;
  try {
    if (kind === 'postgres') postgres = await startLabPostgres();
    const world = await startLab({
      dir,
      network,
      gatewayAttestation: 'k8s',
      svidTtlSeconds: CHAOS_SVID_TTL,
      // Fail fast enough to see recovery within seconds; never let the deny probes trip the deny-burst detector.
      gatewayLimits: { requestTimeoutMs: 4_000, peerCooldownMs: 1_000 },
      denyBurstThreshold: 100_000,
      policyRefreshMs: 5_000,
      onServiceRequest: (_cluster, request) => served.push(request),
      ...(postgres ? { store: postgres.url } : {}),
      ...(options.gatewayArgs ? { gatewayArgs: options.gatewayArgs } : {}),
    });
    return {
      kind,
      world,
      network,
      served,
      postgres,
      close: async () => {
        await world.close().catch(() => undefined);
        await postgres?.stop();
        network.close();
      },
    };
  } catch (error) {
    await postgres?.stop();
    network.close();
    throw error;
  }
}

export function selectExperiments(names: readonly string[] | undefined): ChaosExperiment[] {
  if (!names || names.length === 0) return [...EXPERIMENTS];
  return names.map((name) => {
    const found = EXPERIMENTS.find((e) => e.name === name);
    if (!found) throw new InterlockError('IL_ERR_CHAOS_UNKNOWN_EXPERIMENT', `no chaos experiment ${name}`, { field: 'name', hint: `experiments: ${EXPERIMENTS.map((e) => e.name).join(', ')}` });
    return found;
  });
}

const loadSummary = (load: LoadGenerator) => {
  const allowed = load.records.filter((r) => r.kind === 'allowed');
  const denied = load.records.filter((r) => r.kind === 'denied');
  return { allowed: allowed.length, allowedOk: allowed.filter((r) => r.status === 200).length, denied: denied.length, deniedAccepted: denied.filter((r) => r.status >= 200 && r.status < 300).length };
};

async function runOne(experiment: ChaosExperiment, lab: Lab, canary: Canary, workRoot: string, keep: boolean): Promise<ExperimentResult> {
  const started = Date.now();
  const workDir = join(workRoot, experiment.name);
  mkdirSync(workDir, { recursive: true });
  const checks: Check[] = [];
  const notes: string[] = [];
  const base = { name: experiment.name, title: experiment.title, hypothesis: experiment.hypothesis, fault: experiment.fault, mode: 'netns' as const, startedAt: new Date(started).toISOString(), recoveryBudgetMs: experiment.recoveryBudgetMs };
  lab.served.length = 0;
  let capture: WireCapture | undefined;
  let load: LoadGenerator | undefined;
  try {
    capture = await startWireCapture({ prefix: lab.network.hub.exec, iface: HUB_BRIDGE, file: join(workDir, 'wan.pcap') });
    load = startLoad(lab.world, canary, { maxDurationMs: 5 * 60_000 });
    const running = load;
    if (!(await waitFor(() => running.records.some((r) => r.kind === 'allowed' && r.status === 200), 15_000))) {
      throw new InterlockError('IL_ERR_CHAOS_INVARIANT_FAILED', 'no allowed request succeeded before the fault (baseline)', { field: experiment.name });
    }
    const window = await experiment.run({
      world: lab.world,
      network: lab.network,
      load: running,
      canary,
      served: lab.served,
      workDir,
      ...(lab.postgres ? { postgres: lab.postgres } : {}),
      check: (name, ok, detail) => checks.push({ name, ok, detail }),
      note: (text) => notes.push(text),
      sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
    });
    // Wait for steady success (or the budget), then a little longer so the last requests' records are written.
    await waitFor(() => measureRecovery(running.records, window.clearedAt).recoveryMs !== null, experiment.recoveryBudgetMs + 2_000, 100);
    await new Promise((r) => setTimeout(r, 300));
    await load.stop();
    await new Promise((r) => setTimeout(r, 300));
    await capture.stop();
    const recovery = measureRecovery(running.records, window.clearedAt);
    const invariants: InvariantResult[] = [
      policyInvariant(running.records, lab.served),
      wireInvariant(capture.file),
      await auditInvariant(lab.world, running.records),
      await testDataInvariant(lab.world),
      recoveryInvariant(recovery, experiment.recoveryBudgetMs),
    ];
    const passed = invariants.every((i) => i.ok) && checks.every((c) => c.ok);
    if (passed && !keep) rmSync(capture.file, { force: true });
    return {
      ...base,
      mechanism: window.mechanism ?? null,
      status: passed ? 'passed' : 'failed',
      durationMs: Date.now() - started,
      faultMs: window.clearedAt - window.startedAt,
      firstSuccessMs: recovery.firstSuccessMs,
      recoveryMs: recovery.recoveryMs,
      invariants,
      checks,
      notes,
      load: loadSummary(running),
    };
  } catch (error) {
    await load?.stop().catch(() => undefined);
    await capture?.stop().catch(() => undefined);
    return { ...base, mechanism: null, status: 'error', error: (error as Error).message, durationMs: Date.now() - started, faultMs: null, firstSuccessMs: null, recoveryMs: null, invariants: [], checks, notes, load: load ? loadSummary(load) : { allowed: 0, allowedOk: 0, denied: 0, deniedAccepted: 0 } };
  }
}

const skipped = (e: ChaosExperiment, reason: string): ExperimentResult => ({
  name: e.name,
  title: e.title,
  hypothesis: e.hypothesis,
  fault: e.fault,
  mechanism: null,
  mode: 'netns',
  status: 'skipped',
  skipReason: reason,
  startedAt: new Date().toISOString(),
  durationMs: 0,
  faultMs: null,
  recoveryBudgetMs: e.recoveryBudgetMs,
  firstSuccessMs: null,
  recoveryMs: null,
  invariants: [],
  checks: [],
  notes: [],
  load: { allowed: 0, allowedOk: 0, denied: 0, deniedAccepted: 0 },
});

function write(out: string, result: ExperimentResult): void {
  writeFileSync(join(out, `${result.name}.json`), JSON.stringify(result, null, 2) + '\n');
  writeFileSync(join(out, `${result.name}.md`), renderExperimentMarkdown(result));
}

/**
 * Runs experiments in the netns lab, sharing one lab among those that leave
 * it as they found it, and writes each result as JSON and Markdown.
 */
export async function runChaos(options: ChaosRunOptions): Promise<ExperimentResult[]> {
  const experiments = selectExperiments(options.names);
  const out = resolve(options.out);
  mkdirSync(out, { recursive: true });
  const workRoot = mkdtempSync(join(tmpdir(), 'interlock-chaos-'));
  const canary = createCanary();
  const log = options.log ?? (() => undefined);
  const results: ExperimentResult[] = [];
  let lab: Lab | undefined;
  let labs = 0;
  try {
    for (const experiment of experiments) {
      const reason = (await experiment.unavailable?.()) ?? null;
      if (reason) {
        const result = skipped(experiment, reason);
        results.push(result);
        write(out, result);
        log(`- ${experiment.name}: skipped (${reason})`);
        continue;
      }
      if (lab && lab.kind !== experiment.lab) {
        await lab.close();
        lab = undefined;
      }
      lab ??= await openLab(experiment.lab, join(workRoot, `lab-${++labs}`), options);
      log(`… ${experiment.name}: ${experiment.title}`);
      const result = await runOne(experiment, lab, canary, workRoot, options.keep === true);
      results.push(result);
      write(out, result);
      log(`${result.status === 'passed' ? '✔' : '✘'} ${experiment.name}: ${result.status}${result.error ? ` (${result.error})` : ''}, recovery ${result.recoveryMs ?? '—'} ms`);
      if (experiment.altersLab || result.status !== 'passed') {
        await lab.close();
        lab = undefined;
      }
    }
  } finally {
    await lab?.close();
    if (!options.keep) rmSync(workRoot, { recursive: true, force: true });
  }
  writeFileSync(join(out, 'summary.md'), `# Chaos run ${new Date().toISOString()}\n\n${renderSummary(results)}\n`);
  return results;
}
