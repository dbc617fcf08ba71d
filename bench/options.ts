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
