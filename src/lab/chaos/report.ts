import type { ExperimentResult } from './types.ts';

const ms = (value: number | null) => (value === null ? '—' : `${value} ms`);
const cell = (text: string) => text.replace(/\|/g, '\\|').replace(/\n/g, ' ');

/** One experiment's result as Markdown: hypothesis, fault, invariants, checks and the measured recovery. */
export function renderExperimentMarkdown(r: ExperimentResult): string {
  const lines = [
    `# Chaos experiment: ${r.title} (\`${r.name}\`)`,
    '',
    `**Result: ${r.status.toUpperCase()}**${r.skipReason ? ` — ${r.skipReason}` : ''}${r.error ? ` — ${r.error}` : ''}`,
    '',
    `- **Hypothesis:** ${r.hypothesis}`,
    `- **Fault:** ${r.fault}${r.mechanism ? ` (injected with ${r.mechanism})` : ''}`,
    `- **Mode:** ${r.mode}; started ${r.startedAt}; took ${r.durationMs} ms; fault in force ${ms(r.faultMs)}`,
    `- **Recovery:** steady success ${ms(r.recoveryMs)} after the fault cleared (first success ${ms(r.firstSuccessMs)}); budget ${r.recoveryBudgetMs} ms`,
    `- **Load:** ${r.load.allowedOk}/${r.load.allowed} allowed requests answered 200; ${r.load.denied - r.load.deniedAccepted}/${r.load.denied} denied probes not accepted (refused, or failed with the link)`,
    '',
  ];
  if (r.invariants.length) {
    lines.push('## Invariants', '', '| invariant | held | evidence |', '| --- | --- | --- |', ...r.invariants.map((i) => `| ${i.name} | ${i.ok ? '✔' : '✘'} | ${cell(i.detail)} |`), '');
  }
  if (r.checks.length) {
    lines.push('## Experiment checks', '', '| check | held | evidence |', '| --- | --- | --- |', ...r.checks.map((c) => `| ${cell(c.name)} | ${c.ok ? '✔' : '✘'} | ${cell(c.detail)} |`), '');
  }
  if (r.notes.length) lines.push('## Notes', '', ...r.notes.map((n) => `- ${n}`), '');
  return lines.join('\n');
}

/** The summary table of a run (also what docs/reliability.md quotes). */
export function renderSummary(results: readonly ExperimentResult[]): string {
  return [
    '| experiment | result | fault in force | recovery (steady) | budget |',
    '| --- | --- | --- | --- | --- |',
    ...results.map((r) => `| ${r.name} | ${r.status}${r.skipReason ? ` (${cell(r.skipReason)})` : ''} | ${ms(r.faultMs)} | ${ms(r.recoveryMs)} | ${r.recoveryBudgetMs} ms |`),
  ].join('\n');
}
