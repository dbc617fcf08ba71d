/**
 * Plain-text tables in the style of bench/policy/run.ts (first `left`
 * columns left-aligned, the rest right-aligned), percentiles, and a fixed
 * concurrency pool that times every call.
 */
import { performance } from 'node:perf_hooks';

export function table(header: readonly string[], rows: readonly (readonly string[])[], left = 1): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => (row[i] ?? '').length)));
  const line = (cells: readonly string[]) => `| ${cells.map((c, i) => (i < left ? c.padEnd(widths[i] as number) : c.padStart(widths[i] as number))).join(' | ')} |`;
  const rule = `| ${widths.map((w, i) => (i < left ? '-'.repeat(w) : `${'-'.repeat(w - 1)}:`)).join(' | ')} |`;
  return [line(header), rule, ...rows.map(line)].join('\n');
}

/** Nearest-rank percentile (q in 0..1) of unsorted samples; NaN when empty. */
export function percentile(samples: readonly number[], q: number): number {
  if (samples.length === 0) return Number.NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] as number;
}

export const ms = (value: number, digits = 1): string => (Number.isFinite(value) ? value.toFixed(digits) : '-');
export const count = (value: number): string => Math.round(value).toLocaleString('en-US');

export interface PoolResult<R> {
  /** Per-call latency in ms, in completion order. */
  readonly latencies: number[];
  readonly results: R[];
  readonly errors: string[];
  readonly elapsedMs: number;
}

/**
 * Runs `fn` over `items` with `concurrency` calls in flight (closed loop:
 * each worker starts its next call when the previous one answers).
 */
export async function pool<T, R>(items: readonly T[], concurrency: number, fn: (item: T) => Promise<R>): Promise<PoolResult<R>> {
  const latencies: number[] = [];
  const results: R[] = [];
  const errors: string[] = [];
  let next = 0;
  const start = performance.now();
  const worker = async () => {
    while (next < items.length) {
      const item = items[next++] as T;
      const t0 = performance.now();
      try {
        results.push(await fn(item));
        latencies.push(performance.now() - t0);
      } catch (error) {
        errors.push((error as Error).message);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
  return { latencies, results, errors, elapsedMs: performance.now() - start };
}
