/**
 * The risk register: every threat of docs/threat-model.md with its
 * mitigations and its evidence, each evidence item linked to its last
 * result. A threat is "proven" only when it names evidence and every item
 * last passed; otherwise it is flagged with the reasons, so a register that
 * looks green cannot hide a test that never ran.
 */
import type { Threat, ThreatModel } from './threat-model.ts';
import { outcomeOf, type TestResults } from './test-results.ts';

/** One chaos experiment's last result, read from `<chaos results dir>/<name>.json`. */
export interface ChaosResult {
  readonly passed: boolean;
  /** When it ran, if the file says. */
  readonly finishedAt: string | null;
  readonly detail: string | null;
}

export type EvidenceStatus = 'passed' | 'failed' | 'not run' | 'missing';

export interface EvidenceResult {
  readonly kind: 'test' | 'chaos';
  readonly name: string;
  /** missing: the test file does not exist in the repository (a chaos experiment cannot be missing, only not run). */
  readonly status: EvidenceStatus;
  readonly lastRun: string | null;
  /** Counts for a test file, the failure for a failed one, the result file's detail for chaos. */
  readonly detail: string | null;
}

export interface RiskEntry {
  readonly id: string;
  readonly title: string;
  readonly boundary: string;
  readonly asset: string;
  readonly stride: string;
  readonly mitigations: readonly string[];
  readonly residualRisk: string;
  readonly evidence: readonly EvidenceResult[];
  readonly status: 'proven' | 'flagged';
  /** Why a threat is flagged, one short sentence each; empty when proven. */
  readonly flags: readonly string[];
}

export interface RiskRegisterReport {
  readonly kind: 'risk-register';
  readonly generatedAt: string;
  readonly sources: { readonly threatModel: string; readonly testResults: string; readonly chaosResults: string | null };
  readonly summary: {
    readonly threats: number;
    readonly proven: number;
    readonly flagged: number;
    readonly withoutEvidence: number;
    readonly withFailedEvidence: number;
    readonly withEvidenceNotRun: number;
    readonly withMissingEvidence: number;
  };
  readonly threats: readonly RiskEntry[];
}

export interface RiskRegisterInput {
  readonly model: ThreatModel;
  readonly testResults: TestResults;
  /** By experiment name; an absent name has not run. */
  readonly chaos: ReadonlyMap<string, ChaosResult>;
  /** Whether a test file named as evidence exists in the repository. */
  readonly testFileExists: (path: string) => boolean;
  readonly sources: RiskRegisterReport['sources'];
  readonly generatedAt: string;
}

function testEvidence(name: string, input: RiskRegisterInput): EvidenceResult {
  const normalised = name.replace(/^\.\//, '');
  if (!input.testFileExists(normalised)) return { kind: 'test', name, status: 'missing', lastRun: null, detail: 'no such file in the repository' };
  const result = input.testResults.files[normalised];
  if (!result) return { kind: 'test', name, status: 'not run', lastRun: null, detail: null };
  const outcome = outcomeOf(result);
  const counts = `${result.passed} passed, ${result.failed} failed${result.skipped ? `, ${result.skipped} skipped` : ''}${result.todo ? `, ${result.todo} todo` : ''}`;
  const why = result.fileError ?? result.failures[0] ?? (result.passed + result.skipped + result.todo === 0 ? 'ran no test' : null);
  return { kind: 'test', name, status: outcome, lastRun: result.finishedAt, detail: outcome === 'passed' || !why ? counts : `${counts}: ${why}` };
}

function chaosEvidence(name: string, input: RiskRegisterInput): EvidenceResult {
  const result = input.chaos.get(name);
  if (!result) return { kind: 'chaos', name, status: 'not run', lastRun: null, detail: null };
  return { kind: 'chaos', name, status: result.passed ? 'passed' : 'failed', lastRun: result.finishedAt, detail: result.detail };
}

function describe(items: readonly EvidenceResult[]): string {
  return items.map((e) => (e.kind === 'chaos' ? `chaos ${e.name}` : e.name)).join(', ');
}

function entryFor(threat: Threat, input: RiskRegisterInput): RiskEntry {
  const evidence = threat.evidence.map((e) => (e.kind === 'test' ? testEvidence(e.name, input) : chaosEvidence(e.name, input)));
  const flags: string[] = [];
  if (evidence.length === 0) flags.push('no evidence: no test or chaos experiment shows the mitigations work');
  const by = (status: EvidenceStatus) => evidence.filter((e) => e.status === status);
  if (by('failed').length) flags.push(`evidence failed: ${describe(by('failed'))}`);
  if (by('missing').length) flags.push(`evidence missing: ${describe(by('missing'))}`);
  if (by('not run').length) flags.push(`evidence never ran: ${describe(by('not run'))}`);
  return {
    id: threat.id,
    title: threat.title,
    boundary: threat.boundary,
    asset: threat.asset,
    stride: threat.stride,
    mitigations: threat.mitigations,
    residualRisk: threat.residualRisk,
    evidence,
    status: flags.length === 0 ? 'proven' : 'flagged',
    flags,
  };
}

export function buildRiskRegister(input: RiskRegisterInput): RiskRegisterReport {
  const threats = [...input.model.threats].sort((a, b) => a.id.localeCompare(b.id, 'en', { numeric: true })).map((t) => entryFor(t, input));
  const count = (status: EvidenceStatus) => threats.filter((t) => t.evidence.some((e) => e.status === status)).length;
  return {
    kind: 'risk-register',
    generatedAt: input.generatedAt,
    sources: input.sources,
    summary: {
      threats: threats.length,
      proven: threats.filter((t) => t.status === 'proven').length,
      flagged: threats.filter((t) => t.status === 'flagged').length,
      withoutEvidence: threats.filter((t) => t.evidence.length === 0).length,
      withFailedEvidence: count('failed'),
      withEvidenceNotRun: count('not run'),
      withMissingEvidence: count('missing'),
    },
    threats,
  };
}
