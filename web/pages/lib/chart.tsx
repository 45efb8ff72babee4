import 'uplot/dist/uPlot.min.css';
import uPlot from 'uplot';
import { useEffect, useRef } from 'preact/hooks';

export interface SeriesSpec {
  label: string;
  values: number[];
  color: string;
  /** Bars (default) or a line. */
  kind?: 'bars' | 'line';
  /** The y scale: series with different units get their own axis. */
  scale?: string;
  format?: (v: number) => string;
  /** Bar width as a fraction of the slot (default 0.6): a narrower bar drawn over a wider one compares them. */
  barSize?: number;
}

interface ChartProps {
  /** What the chart shows, for screen readers (the same numbers are in the table next to it). */
  label: string;
  /** x values: UNIX seconds (time axis) or 0..n-1 with `categories`. */
  x: number[];
  categories?: string[];
  /** The x range to show (UNIX seconds), e.g. the whole period even where it has no data. */
  xRange?: [number, number];
  series: SeriesSpec[];
  height?: number;
}

const barsOf = (size = 0.6) => uPlot.paths.bars!({ size: [size, 64] });

/** A uPlot chart of the billing queries' lines. The canvas is decorative for assistive tech: role=img with a label. */
export const Chart = (p: ChartProps) => {
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (!box.current) return;
    const scales = [...new Set(p.series.map((s) => s.scale ?? 'y'))];
    const opts: uPlot.Options = {
      width: Math.max(280, box.current.clientWidth - 16),
      height: p.height ?? 220,
      scales: {
        x: p.categories ? { time: false, range: [-0.5, p.categories.length - 0.5] } : { time: true, ...(p.xRange ? { range: p.xRange } : {}) },
        ...Object.fromEntries(scales.map((k) => [k, { auto: true, range: (_u: uPlot, _min: number, max: number) => [0, max > 0 ? max * 1.1 : 1] as uPlot.Range.MinMax }])),
      },
      axes: [
        p.categories ? { splits: () => p.categories!.map((_, i) => i), values: (_u, ticks) => ticks.map((t) => p.categories![t] ?? '') } : {},
        ...scales.map((k, i) => {
          const s = p.series.find((x) => (x.scale ?? 'y') === k)!;
          return { scale: k, side: i === 0 ? 3 : 1, grid: { show: i === 0 }, values: (_u: uPlot, ticks: number[]) => ticks.map((t) => (s.format ? s.format(t) : String(t))) } as uPlot.Axis;
        }),
      ],
      series: [
        {},
        ...p.series.map((s) => ({
          label: s.label,
          scale: s.scale ?? 'y',
          stroke: s.color,
          fill: s.kind === 'line' ? undefined : `${s.color}cc`,
          width: s.kind === 'line' ? 2 : 1,
          paths: s.kind === 'line' ? undefined : barsOf(s.barSize),
          points: { show: s.kind === 'line' },
          value: (_u: uPlot, v: number | null) => (v === null ? '—' : s.format ? s.format(v) : String(v)),
        })),
      ],
      legend: { show: true },
    };
    const chart = new uPlot(opts, [p.x, ...p.series.map((s) => s.values)] as uPlot.AlignedData, box.current);
    return () => chart.destroy();
  }, [JSON.stringify([p.x, p.categories, p.xRange, p.series.map((s) => [s.label, s.values])])]);
  return <div class="chart" role="img" aria-label={p.label} ref={box} />;
};
