import { cpus, loadavg } from 'node:os';

/** `--name N` from the command line: a positive whole number, or `fallback` when absent; anything else exits 2. */
export function option(name: string, fallback: number): number {
  const at = process.argv.indexOf(name);
  if (at < 0) return fallback;
  const value = Number(process.argv[at + 1]);
  if (!Number.isInteger(value) || value < 1) {
    process.stderr.write(`${name} needs a positive whole number, got ${process.argv[at + 1] ?? 'nothing'}\n`);
    process.exit(2);
  }
  return value;
}

/** The header every benchmark prints: machine, tool versions, load before and after, and the command that ran. */
export function runHeader(script: string, tools: readonly string[], loadBefore: readonly number[]): string[] {
  const cpu = cpus();
  const load = (l: readonly number[]) => l.map((v) => v.toFixed(2)).join(' ');
  return [
    `machine: nproc ${cpu.length} × ${cpu[0]?.model ?? 'unknown cpu'}, node ${process.version}${tools.map((t) => `, ${t}`).join('')}`,
    `load average (1, 5, 15 min) before: ${load(loadBefore)}, after: ${load(loadavg())}`,
    `command: node --import tsx ${script} ${process.argv.slice(2).join(' ')}`.trimEnd(),
  ];
}
