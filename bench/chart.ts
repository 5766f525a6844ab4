import * as vega from 'vega';
import * as vegaLite from 'vega-lite';
import { MODES } from './apps/mode';
import type { BenchResults } from './results';

/** One colour per mode, in the order of `MODES`. */
const MODE_COLORS = {
  domain: MODES,
  range: ['#9e9e9e', '#e45756', '#4c78a8', '#72b7b2', '#b279a2', '#54a24b', '#5a5a5a', '#c7c7c7', '#bdbdbd', '#1f4e79', '#3a3a3a', '#f58518'],
};

/** Requests per second per scenario and mode (median, min–max, ratio to the ceiling on the bar). */
function throughputSpec(results: BenchResults): object {
  const values = results.summaries.map((s) => ({
    scenario: s.scenario,
    mode: s.mode,
    rps: Math.round(s.rps.median),
    min: Math.round(s.rps.min),
    max: Math.round(s.rps.max),
    ratio: s.ratio ? `×${s.ratio.median.toFixed(2)}` : '',
  }));
  const x = { field: 'mode', type: 'nominal', sort: MODE_COLORS.domain, axis: { title: null, labelAngle: 0 } };
  return {
    title: 'Requests per second (median of rounds, min–max; label: × ceiling)',
    data: { values },
    facet: { column: { field: 'scenario', type: 'nominal', sort: ['read', 'write', 'no-cookie'], title: null } },
    spec: {
      width: 190,
      height: 220,
      layer: [
        {
          mark: 'bar',
          encoding: {
            x,
            y: { field: 'rps', type: 'quantitative', title: 'req/s' },
            color: { field: 'mode', type: 'nominal', scale: MODE_COLORS, legend: null },
          },
        },
        { mark: { type: 'rule', strokeWidth: 1.5 }, encoding: { x, y: { field: 'min', type: 'quantitative' }, y2: { field: 'max' } } },
        { mark: { type: 'text', dy: -8, fontSize: 11 }, encoding: { x, y: { field: 'max', type: 'quantitative' }, text: { field: 'ratio' } } },
      ],
    },
  };
}

/** Log-out-everywhere time against stored sessions, both axes logarithmic. */
function logoutSpec(results: BenchResults): object {
  const sizes = [...new Set(results.logout.map((l) => l.stored))];
  return {
    title: 'Log out everywhere (ms) vs stored sessions',
    width: 300,
    height: 200,
    data: { values: results.logout.map((l) => ({ mode: l.mode, stored: l.stored, ms: l.median })) },
    mark: { type: 'line', point: true },
    encoding: {
      x: { field: 'stored', type: 'quantitative', scale: { type: 'log' }, title: 'stored sessions', axis: { values: sizes, format: '~s' } },
      y: {
        field: 'ms',
        type: 'quantitative',
        scale: { type: 'log' },
        title: 'ms (log)',
        axis: { values: [0.1, 1, 10, 100, 1_000, 10_000, 100_000], format: '~g' },
      },
      color: { field: 'mode', type: 'nominal', scale: MODE_COLORS, legend: { orient: 'top-left', title: null } },
    },
  };
}

function memorySpec(results: BenchResults): object {
  return {
    title: 'Redis bytes per session',
    width: 240,
    height: 200,
    data: { values: results.memory.map((m) => ({ label: m.label, mode: m.mode, bytes: Math.round(m.bytesPerSession) })) },
    mark: 'bar',
    encoding: {
      y: { field: 'label', type: 'nominal', title: null, axis: { labelLimit: 320 } },
      x: { field: 'bytes', type: 'quantitative', title: 'bytes' },
      color: { field: 'mode', type: 'nominal', scale: MODE_COLORS, legend: null },
    },
  };
}

/** The report's chart as SVG, compiled by vega-lite and rendered by vega headless (no canvas). */
export async function renderChart(results: BenchResults): Promise<string> {
  const bottom = [results.logout.length ? logoutSpec(results) : undefined, results.memory.length ? memorySpec(results) : undefined].filter(Boolean);
  const parts = [results.summaries.length ? throughputSpec(results) : undefined, bottom.length ? { hconcat: bottom } : undefined].filter(Boolean);
  if (parts.length === 0) return '';
  const spec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    vconcat: parts,
    resolve: { legend: { color: 'independent' } },
    config: { font: 'sans-serif' },
  };
  const compiled = vegaLite.compile(spec as vegaLite.TopLevelSpec).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}
