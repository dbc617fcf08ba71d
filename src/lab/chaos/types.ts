import type { Canary } from '../canary.ts';
import type { LabNetwork } from '../netns.ts';
import type { LabWorld } from '../world.ts';
import type { ServedRequest } from '../sample-service.ts';
import type { LoadGenerator } from './load.ts';

/** A check an experiment makes beyond the shared invariants (e.g. "the stolen SVID was refused"). */
export interface Check {
  readonly name: string;
  readonly ok: boolean;
  readonly detail: string;
}

/** The lab an experiment needs: the shared one (SQLite store) or one on a PostgreSQL store. */
export type LabKind = 'shared' | 'postgres';

export interface ExperimentContext {
  readonly world: LabWorld;
  readonly network: LabNetwork;
  readonly load: LoadGenerator;
  readonly canary: Canary;
  /** Requests the sample services answered during this experiment. */
  readonly served: readonly ServedRequest[];
  /** A folder for this experiment's scratch files. */
  readonly workDir: string;
  /** Restarts the PostgreSQL server (only in the postgres lab). */
  readonly postgres?: { restart(downMs: number): Promise<void> };
  check(name: string, ok: boolean, detail: string): void;
  note(text: string): void;
  sleep(ms: number): Promise<void>;
}

/** When the fault was in force, on the load generator's clock (ms). */
export interface FaultWindow {
  readonly startedAt: number;
  readonly clearedAt: number;
  /** How the fault was injected, when there was a choice (e.g. netem, or iptables + NFQUEUE). */
  readonly mechanism?: string;
}

export interface ChaosExperiment {
  readonly name: string;
  readonly title: string;
  readonly hypothesis: string;
  readonly fault: string;
  /** From the fault clearing to steady success (3 allowed requests in a row). */
  readonly recoveryBudgetMs: number;
  readonly lab: LabKind;
  /** The experiment leaves the lab changed (e.g. a cluster CA replaced): the next one gets a fresh lab. */
  readonly altersLab?: boolean;
  /** Why it cannot run here (a missing tool), or null. */
  unavailable?(): Promise<string | null> | string | null;
  run(ctx: ExperimentContext): Promise<FaultWindow>;
}

export type InvariantName = 'policy' | 'wire' | 'audit' | 'test-data' | 'recovery';

export interface InvariantResult {
  readonly name: InvariantName;
  readonly ok: boolean;
  readonly detail: string;
}

export interface ExperimentResult {
  readonly name: string;
  readonly title: string;
  readonly hypothesis: string;
  readonly fault: string;
  readonly mechanism: string | null;
  readonly mode: 'netns';
  readonly status: 'passed' | 'failed' | 'skipped' | 'error';
  readonly skipReason?: string;
  readonly error?: string;
  readonly startedAt: string;
  readonly durationMs: number;
  readonly faultMs: number | null;
  readonly recoveryBudgetMs: number;
  /** Fault cleared → first allowed request answered 200. */
  readonly firstSuccessMs: number | null;
  /** Fault cleared → the first of 3 allowed requests in a row answered 200. */
  readonly recoveryMs: number | null;
  readonly invariants: readonly InvariantResult[];
  readonly checks: readonly Check[];
  readonly notes: readonly string[];
  /** deniedAccepted: denied probes answered 2xx (the policy invariant's count; 0 unless the build is broken). */
  readonly load: { readonly allowed: number; readonly allowedOk: number; readonly denied: number; readonly deniedAccepted: number };
}
