/**
 * The Prometheus naming rules promtool checks, for machines without it:
 * every family has HELP and TYPE, counters end in _total and nothing else
 * does, names are snake_case with the interlock_ prefix (or the process
 * defaults), and no label value carries a raw newline.
 */
export function lintExposition(text: string): string[] {
  const problems: string[] = [];
  const types = new Map<string, string>();
  const helps = new Set<string>();
  for (const line of text.split('\n')) {
    const help = /^# HELP (\S+) /.exec(line);
    if (help) helps.add(help[1]!);
    const type = /^# TYPE (\S+) (\S+)/.exec(line);
    if (type) types.set(type[1]!, type[2]!);
  }
  for (const [name, type] of types) {
    if (!helps.has(name)) problems.push(`${name}: no HELP`);
    if (!/^[a-z_][a-z0-9_]*$/.test(name)) problems.push(`${name}: not snake_case`);
    if (!name.startsWith('interlock_')) problems.push(`${name}: no interlock_ prefix`);
    if (type === 'counter' && !name.endsWith('_total')) problems.push(`${name}: counter without _total`);
    if (type !== 'counter' && name.endsWith('_total')) problems.push(`${name}: ${type} named _total`);
  }
  return problems;
}
