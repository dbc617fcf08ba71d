import { h } from 'preact';
import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';

export interface ChartSeries {
  readonly label: string;
  readonly values: ReadonlyArray<number | null>;
  /** 'y' (left axis) or 'ms' (right axis, milliseconds). */
  readonly scale: 'y' | 'ms';
  readonly colour: string;
  readonly dash?: boolean;
}

const HEIGHT = 180;

function options(title: string, series: readonly ChartSeries[], width: number, yLabel: string): uPlot.Options {
  const hasMs = series.some((s) => s.scale === 'ms');
  const hasY = series.some((s) => s.scale === 'y');
  return {
    title,
    width,
    height: HEIGHT,
    // Both from zero; sub-millisecond Cedar times keep their own scale instead of a flat line under 1.
    scales: { x: { time: true }, y: { range: (_u, _min, max) => [0, max > 0 ? max * 1.15 : 1] }, ms: { range: (_u, _min, max) => [0, max > 0 ? max * 1.15 : 1] } },
    series: [{}, ...series.map((s) => ({ label: s.label, scale: s.scale, stroke: s.colour, width: 2, spanGaps: false, ...(s.dash ? { dash: [6, 4] } : {}), points: { show: true, size: 4 } }))],
    axes: [
      { space: 90, values: (_u, splits) => splits.map((t) => new Date(t * 1000).toLocaleTimeString([], { hour12: false })) },
      ...(hasY ? [{ scale: 'y', label: yLabel }] : []),
      ...(hasMs ? [{ scale: 'ms', label: 'ms', side: 1 as const, grid: { show: !hasY } }] : []),
    ],
    legend: { live: false },
  };
}

/**
 * A uPlot time chart (https://github.com/leeoniya/uPlot). Created once per
 * set of series and width; later snapshots only swap its data, so polling
 * every 2 s does not rebuild the canvas.
 */
export function TimeChart(props: { title: string; times: readonly number[]; series: readonly ChartSeries[]; yLabel?: string }) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const shape = props.series.map((s) => `${s.label}/${s.scale}`).join('|');
  const data = [props.times.slice(), ...props.series.map((s) => s.values.slice())] as unknown as uPlot.AlignedData;

  useEffect(() => {
    const element = box.current!;
    const width = Math.max(280, element.clientWidth);
    plot.current = new uPlot(options(props.title, props.series, width, props.yLabel ?? ''), data, element);
    // Follow the panel's width (the window, or the audit record panel opening beside it).
    const resize = new ResizeObserver(() => plot.current?.setSize({ width: Math.max(280, element.clientWidth), height: HEIGHT }));
    resize.observe(element);
    return () => {
      resize.disconnect();
      plot.current?.destroy();
      plot.current = null;
    };
  }, [shape, props.title]);

  useEffect(() => {
    plot.current?.setData(data);
  });

  return h('figure', { class: 'chart', 'aria-label': props.title }, h('div', { ref: box }));
}
