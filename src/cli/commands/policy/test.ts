import type { Command } from 'commander';
import { caseLabel, runPolicyTests } from '../../../policy/policy-tests.ts';
import { EXIT_FAILED, EXIT_OK, action } from '../../run.ts';

/**
 * `interlock policy test <path> [--json]`: runs policy unit tests offline,
 * with no control plane. Exit 0 when every case passes, 1 when one fails,
 * 2 when a test or policy file is malformed (via action()).
 */
export function registerPolicyTest(policy: Command): void {
  policy
    .command('test')
    .description('run policy unit tests: YAML/JSON files of example calls and the decision each must get (docs/policy.md)')
    .argument('<path>', 'a test file, or a folder of *.yaml, *.yml and *.json test files')
    .option('--json', 'print the report as JSON')
    .action(
      action(async (path: string, options: { json?: boolean }) => {
        const report = await runPolicyTests(path);
        if (options.json) {
          process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
        } else {
          for (const result of report.results) {
            const line = result.passed ? `PASS ${caseLabel(result)}` : `FAIL ${caseLabel(result)}: ${result.failure}`;
            process.stdout.write(`${line}\n`);
          }
          const total = report.passed + report.failed;
          process.stdout.write(`${report.files} file${report.files === 1 ? '' : 's'}, ${total} case${total === 1 ? '' : 's'}: ${report.passed} passed, ${report.failed} failed\n`);
        }
        return report.failed === 0 ? EXIT_OK : EXIT_FAILED;
      }),
    );
}
