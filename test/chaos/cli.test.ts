import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EXPERIMENTS } from '../../src/lab/chaos/experiments/index.ts';
import { runCli } from '../helpers/cli.ts';

test('interlock chaos run --list names every experiment with its hypothesis', () => {
  const result = runCli(['chaos', 'run', '--list']);
  assert.equal(result.status, 0, result.stderr);
  assert.equal(EXPERIMENTS.length, 12);
  for (const e of EXPERIMENTS) assert.match(result.stdout, new RegExp(`^${e.name} `, 'm'));
  assert.equal((result.stdout.match(/hypothesis:/g) ?? []).length, 12);
});

test('interlock chaos run refuses an unknown experiment, no names, and the loopback lab, with codes', () => {
  const unknown = runCli(['chaos', 'run', 'flood']);
  assert.equal(unknown.status, 2);
  assert.match(unknown.stderr, /IL_ERR_CHAOS_UNKNOWN_EXPERIMENT: no chaos experiment flood .*link-cut/);
  const none = runCli(['chaos', 'run']);
  assert.equal(none.status, 2);
  assert.match(none.stderr, /IL_ERR_USAGE: name the experiments to run, or --all/);
  const loopback = runCli(['chaos', 'run', '--all', '--loopback']);
  assert.equal(loopback.status, 2);
  assert.match(loopback.stderr, /IL_ERR_LAB_NETNS_UNAVAILABLE/);
});
