import type { Command } from 'commander';
import { InterlockError } from '../../../errors.ts';
import { netnsUnavailableReason } from '../../../lab/netns.ts';
import { EXPERIMENTS } from '../../../lab/chaos/experiments/index.ts';
import { runChaos, selectExperiments } from '../../../lab/chaos/runner.ts';
import { renderSummary } from '../../../lab/chaos/report.ts';
import { EXIT_FAILED, EXIT_OK, action } from '../../run.ts';

export function registerChaos(program: Command): void {
  const chaos = program.command('chaos').description('chaos experiments against the lab: faults on the network and the control plane, each with a hypothesis and invariants');
  chaos
    .command('run')
    .description('run chaos experiments in the network-namespace lab (needs root); writes <out>/<name>.json and .md, exits 1 if any invariant fails')
    .argument('[names...]', 'experiments to run (see --list)')
    .option('--all', 'run every experiment')
    .option('--list', 'list the experiments and their hypotheses')
    .option('--out <dir>', 'folder for the results', 'chaos-results')
    .option('--netns', 'run each cluster in its own network namespace (the default; needs root)')
    .option('--loopback', 'refused: the experiments act on network interfaces, which the loopback lab does not have')
    .option('--keep', 'keep the lab folders and wire captures')
    .action(
      action(async (names: string[], options: { all?: boolean; list?: boolean; out: string; netns?: boolean; loopback?: boolean; keep?: boolean }) => {
        if (options.list) {
          for (const e of EXPERIMENTS) process.stdout.write(`${e.name.padEnd(22)} ${e.title}\n${' '.repeat(23)}hypothesis: ${e.hypothesis}\n`);
          return EXIT_OK;
        }
        if (!options.all && names.length === 0) throw new InterlockError('IL_ERR_USAGE', 'name the experiments to run, or --all', { field: 'names', hint: 'interlock chaos run --list' });
        selectExperiments(options.all ? [] : names);
        if (options.loopback) {
          throw new InterlockError('IL_ERR_LAB_NETNS_UNAVAILABLE', 'chaos experiments cut, slow down and tap the link between clusters, which needs the network-namespace lab', { field: '--loopback', hint: 'run as root without --loopback' });
        }
        const reason = netnsUnavailableReason();
        if (reason) throw new InterlockError('IL_ERR_LAB_NETNS_UNAVAILABLE', reason, { field: '--netns', hint: 'run as root on Linux (CI does)' });
        const results = await runChaos({ names: options.all ? [] : names, out: options.out, keep: options.keep === true, log: (line) => process.stdout.write(line + '\n') });
        process.stdout.write(`\n${renderSummary(results)}\n\nresults in ${options.out}/\n`);
        return results.every((r) => r.status === 'passed' || r.status === 'skipped') ? EXIT_OK : EXIT_FAILED;
      }),
    );
}
