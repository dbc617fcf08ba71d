/**
 * Reads docs/threat-model.md, whose threats follow one fixed shape (the
 * file's own introduction describes it):
 *
 *   ### T01 — Title
 *   - **Boundary:** one of the names in the "Trust boundaries" table
 *   - **Asset:** one of the names in the "Assets" table
 *   - **STRIDE:** Spoofing | Tampering | Repudiation | Information disclosure | Denial of service | Elevation of privilege
 *   - **Mitigations:** items separated by `; `
 *   - **Evidence:** `test/…test.ts`; chaos `experiment-name`; … (or "none")
 *   - **Residual risk:** text
 *
 * Anything that breaks the shape is IL_ERR_THREAT_MODEL_INVALID naming the
 * line, so the risk register never silently drops or misreads a threat.
 */
import { InterlockError } from '../errors.ts';

export const STRIDE_CATEGORIES = ['Spoofing', 'Tampering', 'Repudiation', 'Information disclosure', 'Denial of service', 'Elevation of privilege'] as const;
export type StrideCategory = (typeof STRIDE_CATEGORIES)[number];

const FIELDS = ['Boundary', 'Asset', 'STRIDE', 'Mitigations', 'Evidence', 'Residual risk'] as const;
type Field = (typeof FIELDS)[number];

export interface EvidenceRef {
  readonly kind: 'test' | 'chaos';
  /** A test file path as written (relative to the repository root), or a chaos experiment name. */
  readonly name: string;
}

export interface Threat {
  readonly id: string;
  readonly title: string;
  /** 1-based line of the heading. */
  readonly line: number;
  readonly boundary: string;
  readonly asset: string;
  readonly stride: StrideCategory;
  readonly mitigations: readonly string[];
  readonly evidence: readonly EvidenceRef[];
  readonly residualRisk: string;
}

export interface ThreatModel {
  /** First column of the "Trust boundaries" and "Assets" tables; empty when the file has no such table. */
  readonly boundaries: readonly string[];
  readonly assets: readonly string[];
  readonly threats: readonly Threat[];
}

const THREAT_HEADING = /^###\s+T\d/;
const THREAT_HEADING_EXACT = /^### (T\d{2,}) — (\S.*)$/;
const FIELD_LINE = /^- \*\*([^*]+):\*\*(.*)$/;
const TABLE_ROW = /^\|(.*)\|\s*$/;

function problem(file: string, line: number, message: string): InterlockError {
  return new InterlockError('IL_ERR_THREAT_MODEL_INVALID', `${file}:${line}: ${message}`, {
    field: `${file}:${line}`,
    hint: 'each threat is "### T<nn> — <title>" followed by the six bullet lines Boundary, Asset, STRIDE, Mitigations, Evidence, Residual risk (see the top of docs/threat-model.md)',
  });
}

/** Splits on `; ` outside parentheses and backticks: mitigations carry parenthesised asides with semicolons. */
export function splitItems(text: string): string[] {
  const items: string[] = [];
  let depth = 0;
  let quoted = false;
  let current = '';
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === '`') quoted = !quoted;
    else if (!quoted && c === '(') depth++;
    else if (!quoted && c === ')') depth = Math.max(0, depth - 1);
    if (!quoted && depth === 0 && c === ';') {
      items.push(current.trim());
      current = '';
      continue;
    }
    current += c;
  }
  items.push(current.trim());
  return items.filter((item) => item !== '');
}

function parseEvidence(value: string, file: string, line: number): EvidenceRef[] {
  if (/^none\.?$/i.test(value)) return [];
  return splitItems(value).map((item) => {
    const test = /^`([^`\s]+)`$/.exec(item);
    if (test) return { kind: 'test' as const, name: test[1]! };
    const chaos = /^chaos `([a-z0-9][a-z0-9-]*)`$/.exec(item);
    if (chaos) return { kind: 'chaos' as const, name: chaos[1]! };
    throw problem(file, line, `evidence item "${item}" is neither a backticked test file nor chaos \`<experiment>\``);
  });
}

/** First-column cells of a Markdown table, without its header and separator rows. */
function tableKeys(rows: readonly string[]): string[] {
  return rows
    .slice(2)
    .map((row) => (TABLE_ROW.exec(row)?.[1] ?? '').split('|')[0]!.trim())
    .filter((cell) => cell !== '');
}

interface OpenThreat {
  id: string;
  title: string;
  line: number;
  values: Map<Field, { value: string; line: number }>;
}

export function parseThreatModel(text: string, file = 'docs/threat-model.md'): ThreatModel {
  const lines = text.split(/\r?\n/);
  const tables = new Map<string, string[]>();
  const threats: Threat[] = [];
  const seen = new Map<string, number>();
  let section = '';
  let open: OpenThreat | undefined;
  let closed: OpenThreat | undefined;

  const finish = (t: OpenThreat): void => {
    const missing = FIELDS.filter((f) => !t.values.has(f));
    if (missing.length > 0) throw problem(file, t.line, `${t.id} has ${FIELDS.length - missing.length} of its 6 fields; missing ${missing.map((f) => `**${f}:**`).join(', ')}`);
    const get = (f: Field) => t.values.get(f)!;
    const boundaries = tableKeys(tables.get('trust boundaries') ?? []);
    const assets = tableKeys(tables.get('assets') ?? []);
    const boundary = get('Boundary');
    if (boundaries.length > 0 && !boundaries.includes(boundary.value)) throw problem(file, boundary.line, `boundary "${boundary.value}" is not one of the trust boundaries table: ${boundaries.join(', ')}`);
    const asset = get('Asset');
    if (assets.length > 0 && !assets.includes(asset.value)) throw problem(file, asset.line, `asset "${asset.value}" is not one of the assets table: ${assets.join(', ')}`);
    const stride = get('STRIDE');
    if (!(STRIDE_CATEGORIES as readonly string[]).includes(stride.value)) throw problem(file, stride.line, `STRIDE "${stride.value}" is not one of ${STRIDE_CATEGORIES.join(', ')}`);
    const evidence = get('Evidence');
    threats.push({
      id: t.id,
      title: t.title,
      line: t.line,
      boundary: boundary.value,
      asset: asset.value,
      stride: stride.value as StrideCategory,
      mitigations: splitItems(get('Mitigations').value),
      evidence: parseEvidence(evidence.value, file, evidence.line),
      residualRisk: get('Residual risk').value,
    });
  };

  lines.forEach((raw, index) => {
    const n = index + 1;
    const line = raw.trimEnd();
    if (/^#{1,3} /.test(line) || THREAT_HEADING.test(line)) {
      if (open) finish(open);
      open = undefined;
      closed = undefined;
    }
    if (THREAT_HEADING.test(line)) {
      const heading = THREAT_HEADING_EXACT.exec(line);
      if (!heading) throw problem(file, n, `malformed threat heading "${line}": expected "### T<two digits> — <title>" (with an em dash)`);
      const id = heading[1]!;
      if (seen.has(id)) throw problem(file, n, `${id} appears twice (first at line ${seen.get(id)})`);
      seen.set(id, n);
      open = { id, title: heading[2]!.trim(), line: n, values: new Map() };
      return;
    }
    if (/^## /.test(line)) section = line.slice(3).trim().toLowerCase();
    if (TABLE_ROW.test(line) && !open && (section === 'assets' || section === 'trust boundaries')) {
      tables.set(section, [...(tables.get(section) ?? []), line]);
      return;
    }
    const field = FIELD_LINE.exec(line);
    if (open) {
      if (line.trim() === '') return;
      if (!field) throw problem(file, n, `${open.id}: expected the **${FIELDS[open.values.size]}:** line, found "${line.slice(0, 60)}"`);
      const name = field[1]!.trim();
      const expected = FIELDS[open.values.size]!;
      if (name !== expected) throw problem(file, n, `${open.id}: expected **${expected}:** here, found **${name}:** (the six fields come in the order ${FIELDS.join(', ')})`);
      const value = field[2]!.trim();
      if (value === '') throw problem(file, n, `${open.id}: **${name}:** is empty`);
      open.values.set(name, { value, line: n });
      if (open.values.size === FIELDS.length) {
        finish(open);
        closed = open;
        open = undefined;
      }
      return;
    }
    if (closed && field) throw problem(file, n, `${closed.id} already has its six fields; **${field[1]!.trim()}:** is one too many`);
  });
  if (open) finish(open);
  if (threats.length === 0) throw problem(file, lines.length, 'no threats found: expected headings "### T<nn> — <title>"');
  return { boundaries: tableKeys(tables.get('trust boundaries') ?? []), assets: tableKeys(tables.get('assets') ?? []), threats };
}
