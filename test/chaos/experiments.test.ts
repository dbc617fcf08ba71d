import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { netnsUnavailableReason } from '../../src/lab/netns.ts';
import { EXPERIMENTS } from '../../src/lab/chaos/experiments/index.ts';
import { runChaos } from '../../src/lab/chaos/runner.ts';
import type { ExperimentResult } from '../../src/lab/chaos/types.ts';

const reason = netnsUnavailableReason();
if (reason) console.log(`# chaos experiments skipped: needs root: ${reason}`);

describe('chaos experiments in the netns lab', { skip: reason ? `needs root: ${reason}` : false }, () => {
  // Where `interlock report risk-register` looks for the last chaos results (gitignored).
  const out = join(process.cwd(), 'test-results', 'chaos');
  let results: ExperimentResult[] = [];

  before(async () => {
    results = await runChaos({ out, log: (line) => console.log(`# ${line}`) });
  }, { timeout: 600_000 });

  for (const experiment of EXPERIMENTS) {
    test(`${experiment.name}: ${experiment.title}`, (t) => {
      const result = results.find((r) => r.name === experiment.name);
      assert.ok(result, `no result for ${experiment.name}`);
      const markdown = readFileSync(join(out, `${experiment.name}.md`), 'utf8');
      if (result.status === 'skipped') {
        // Never silent: the reason is in the result and in the test output.
        assert.ok(result.skipReason);
        t.skip(result.skipReason);
        return;
      }
      assert.equal(result.status, 'passed', markdown);
      const json = JSON.parse(readFileSync(join(out, `${experiment.name}.json`), 'utf8')) as ExperimentResult;
      assert.deepEqual(json.invariants.map((i) => i.name), ['policy', 'wire', 'audit', 'test-data', 'recovery']);
      assert.ok(json.recoveryMs !== null && json.recoveryMs <= json.recoveryBudgetMs);
      for (const section of ['**Hypothesis:**', '**Fault:**', '**Recovery:**', '## Invariants', '| policy | ✔', '| wire | ✔', '| audit | ✔', '| test-data | ✔', '| recovery | ✔']) assert.ok(markdown.includes(section), `${section} missing from the Markdown result`);
      assert.ok(json.load.denied > 0 && json.load.deniedAccepted === 0, 'denied probes ran and none was accepted');
      console.log(`# ${experiment.name}: recovered in ${result.recoveryMs} ms (budget ${result.recoveryBudgetMs} ms)${result.notes.length ? `; ${result.notes.join(' ')}` : ''}`);
    });
  }
});
