/**
 * The soak chart: latency (p50, p99) and the processes' resident memory per
 * window, as a self-contained SVG (two stacked panels, no library: the file
 * must open anywhere, including a Markdown preview).
 */
export interface SoakWindow {
  readonly fromS: number;
  readonly requests: number;
  readonly failed: number;
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
  readonly rssMiB: { readonly controlPlane: number; readonly east: number; readonly west: number };
  readonly rotationsFinished: number;
}

const WIDTH = 760;
const PANEL = 200;
const MARGIN = { left: 60, right: 130, top: 30, gap: 50 };

interface Series {
  readonly label: string;
  readonly colour: string;
  readonly values: readonly number[];
}

const escape = (text: string) => text.replace(/[<>&]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;' })[c]!);

function panel(top: number, title: string, unit: string, xs: readonly number[], series: readonly Series[]): string {
  const finite = series.flatMap((s) => s.values.filter(Number.isFinite));
  const maxY = Math.max(1, ...finite) * 1.1;
  const maxX = Math.max(1, ...xs);
  const plotW = WIDTH - MARGIN.left - MARGIN.right;
  const x = (v: number) => MARGIN.left + (v / maxX) * plotW;
  const y = (v: number) => top + PANEL - (v / maxY) * PANEL;
  const parts = [`<text x="${MARGIN.left}" y="${top - 10}" font-size="13" font-weight="bold">${escape(title)}</text>`];
  parts.push(`<rect x="${MARGIN.left}" y="${top}" width="${plotW}" height="${PANEL}" fill="none" stroke="#999"/>`);
  for (let i = 0; i <= 4; i++) {
    const v = (maxY * i) / 4;
    parts.push(`<line x1="${MARGIN.left}" x2="${MARGIN.left + plotW}" y1="${y(v)}" y2="${y(v)}" stroke="#eee"/>`);
    parts.push(`<text x="${MARGIN.left - 6}" y="${y(v) + 4}" font-size="10" text-anchor="end">${v.toFixed(v < 10 ? 1 : 0)}</text>`);
  }
  parts.push(`<text x="${MARGIN.left - 45}" y="${top + PANEL / 2}" font-size="10" transform="rotate(-90 ${MARGIN.left - 45} ${top + PANEL / 2})" text-anchor="middle">${escape(unit)}</text>`);
  series.forEach((s, index) => {
    const points = s.values.map((v, i) => (Number.isFinite(v) ? `${x(xs[i]!).toFixed(1)},${y(v).toFixed(1)}` : null)).filter(Boolean);
    parts.push(`<polyline fill="none" stroke="${s.colour}" stroke-width="2" points="${points.join(' ')}"/>`);
    parts.push(`<rect x="${WIDTH - MARGIN.right + 12}" y="${top + 8 + index * 18}" width="12" height="3" fill="${s.colour}"/>`);
    parts.push(`<text x="${WIDTH - MARGIN.right + 30}" y="${top + 13 + index * 18}" font-size="11">${escape(s.label)}</text>`);
  });
  for (let i = 0; i <= 5; i++) {
    const v = (maxX * i) / 5;
    parts.push(`<text x="${x(v)}" y="${top + PANEL + 14}" font-size="10" text-anchor="middle">${v.toFixed(0)} s</text>`);
  }
  return parts.join('\n');
}

export function soakChart(windows: readonly SoakWindow[], windowSeconds: number): string {
  const xs = windows.map((w) => w.fromS + windowSeconds);
  const height = MARGIN.top + 2 * PANEL + MARGIN.gap + 40;
  const failed = windows.reduce((n, w) => n + w.failed, 0);
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="sans-serif">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    panel(MARGIN.top, `Latency per ${windowSeconds} s window (${failed} failed requests in all)`, 'ms', xs, [
      { label: 'p50', colour: '#1f77b4', values: windows.map((w) => w.p50) },
      { label: 'p99', colour: '#d62728', values: windows.map((w) => w.p99) },
    ]),
    panel(MARGIN.top + PANEL + MARGIN.gap, 'Resident memory', 'MiB', xs, [
      { label: 'control plane', colour: '#2ca02c', values: windows.map((w) => w.rssMiB.controlPlane) },
      { label: 'east gateway', colour: '#9467bd', values: windows.map((w) => w.rssMiB.east) },
      { label: 'west gateway', colour: '#ff7f0e', values: windows.map((w) => w.rssMiB.west) },
    ]),
    '</svg>',
  ].join('\n');
}
