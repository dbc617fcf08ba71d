import { readFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import type { Command } from 'commander';
import { InterlockError } from '../../../errors.ts';
import { writeFileAtomic } from '../../../util/files.ts';
import { action } from '../../run.ts';
import { connectionFrom, withApi, type ApiOptions } from '../../api-options.ts';
import { buildInventory } from '../../../reports/inventory.ts';
import { buildTrustBoundaries } from '../../../reports/trust-boundaries.ts';
import { buildRiskRegister, type RiskRegisterReport } from '../../../reports/risk-register.ts';
import { parseThreatModel } from '../../../reports/threat-model.ts';
import { DEFAULT_TEST_RESULTS_FILE, readTestResults } from '../../../reports/test-results.ts';
import { fileExistsUnder, readChaosResults } from '../../../reports/evidence-sources.ts';
import { REPORT_KINDS, checkFormat, checkKind, renderReport, type Report } from '../../../reports/render.ts';
import { inventoryInput, trustBoundariesInput } from './fetch.ts';

const DEFAULT_CHAOS_RESULTS = 'test-results/chaos';

interface ReportOptions extends ApiOptions {
  format: string;
  out?: string;
  services?: string[];
  declared?: string;
  repo: string;
  threatModel?: string;
  testResults?: string;
  chaosResults?: string;
}

const collect = (value: string, previous: string[] | undefined) => [...(previous ?? []), value];

/** Reads only files: the risk register needs no control plane. */
function riskRegister(options: ReportOptions, now: Date): RiskRegisterReport {
  const repo = resolve(options.repo);
  // Paths given are relative to the working directory; the defaults, to the repository.
  const threatModel = options.threatModel ? resolve(options.threatModel) : join(repo, 'docs', 'threat-model.md');
  const testResults = options.testResults ? resolve(options.testResults) : join(repo, DEFAULT_TEST_RESULTS_FILE);
  const chaosDir = options.chaosResults ? resolve(options.chaosResults) : join(repo, DEFAULT_CHAOS_RESULTS);
  let text: string;
  try {
    text = readFileSync(threatModel, 'utf8');
  } catch (error) {
    throw new InterlockError('IL_ERR_CONFIG_NOT_FOUND', `cannot read the threat model ${threatModel}: ${(error as NodeJS.ErrnoException).code ?? 'error'}`, { field: '--threat-model' });
  }
  const shown = (path: string) => relative(process.cwd(), path) || '.';
  const model = parseThreatModel(text, shown(threatModel));
  const chaosNames = model.threats.flatMap((t) => t.evidence.filter((e) => e.kind === 'chaos').map((e) => e.name));
  return buildRiskRegister({
    model,
    testResults: readTestResults(testResults),
    chaos: readChaosResults(chaosDir, chaosNames),
    testFileExists: fileExistsUnder(repo),
    sources: { threatModel: shown(threatModel), testResults: shown(testResults), chaosResults: shown(chaosDir) },
    generatedAt: now.toISOString(),
  });
}

/**
 * `interlock report <inventory|trust-boundaries|risk-register>` (docs/reports.md).
 * inventory and trust-boundaries read the control plane (role auditor);
 * risk-register reads docs/threat-model.md and the last test and chaos results.
 */
export function registerReport(program: Command): void {
  withApi(program.command('report'))
    .description(`reports for auditors: ${REPORT_KINDS.join(', ')} (Markdown or JSON; see docs/reports.md)`)
    .argument('<kind>', REPORT_KINDS.join(' | '))
    .option('--format <format>', 'markdown or json (--json is the same as --format json)', 'markdown')
    .option('--out <file>', 'write the report to this file instead of stdout')
    .option('--services <file>', 'trust-boundaries: services to evaluate (repeatable): a gateway configuration, declarative Service documents, or a list [{cluster, name, namespace?, classification?}]; default: the control plane service catalogue', collect)
    .option('--declared <dir>', 'inventory: a declarative configuration directory (interlock apply -f) to report drift against')
    .option('--repo <dir>', 'risk-register: the repository root that evidence paths are relative to', '.')
    .option('--threat-model <file>', 'risk-register: the threat model (default <repo>/docs/threat-model.md)')
    .option('--test-results <file>', `risk-register: the test results summary scripts/test.mjs writes (default <repo>/${DEFAULT_TEST_RESULTS_FILE})`)
    .option('--chaos-results <dir>', `risk-register: folder of <experiment>.json chaos results (default <repo>/${DEFAULT_CHAOS_RESULTS})`)
    .action(
      action(async (kindArg: string, options: ReportOptions) => {
        const kind = checkKind(kindArg);
        const format = options.json ? 'json' : checkFormat(options.format);
        const now = new Date();
        let report: Report;
        if (kind === 'risk-register') report = riskRegister(options, now);
        else if (kind === 'inventory') report = buildInventory(await inventoryInput(connectionFrom(options), options.declared, now));
        else report = buildTrustBoundaries(await trustBoundariesInput(connectionFrom(options), options.services ?? [], now));
        const text = renderReport(report, format);
        if (!options.out) {
          process.stdout.write(text);
          return;
        }
        writeFileAtomic(options.out, text, 0o644);
        process.stdout.write(`wrote the ${kind} report to ${options.out}\n`);
      }),
    );
}
