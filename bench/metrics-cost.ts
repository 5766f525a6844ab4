import { SCENARIOS, type ScenarioRun } from './results';
import { spread } from './stats';

import type { Mode } from './apps/mode';

/**
 * What an option of `ours` costs per request: in each round, its mode (`ours-metrics`: `metrics:
 * true`; `ours-encrypted`: `encryption`) minus `ours` of the same round (so both saw the same
 * machine), in app CPU µs per request and in req/s.
 */
export function metricsCostTable(runs: ScenarioRun[], mode: Mode = 'ours-metrics'): string {
  const what = mode === 'ours-encrypted' ? 'encryption' : 'metrics';
  const rows = [
    `| scenario | app CPU µs/req, ${what} on − off: median (min–max) over rounds | req/s on ÷ off: median (min–max) | rounds |`,
    '|---|---:|---:|---:|',
  ];
  for (const scenario of SCENARIOS) {
    const cpu: number[] = [];
    const rps: number[] = [];
    for (const on of runs.filter((r) => r.mode === mode && r.scenario === scenario)) {
      const off = runs.find((r) => r.mode === 'ours' && r.scenario === scenario && r.round === on.round);
      if (!off) continue;
      if (on.appCpuPerRequest !== undefined && off.appCpuPerRequest !== undefined) cpu.push(on.appCpuPerRequest - off.appCpuPerRequest);
      rps.push(on.load.rps / off.load.rps);
    }
    if (rps.length === 0) continue;
    const c = cpu.length ? spread(cpu) : undefined;
    const r = spread(rps);
    rows.push(
      `| ${scenario} | ${c ? `${c.median.toFixed(1)} (${c.min.toFixed(1)} – ${c.max.toFixed(1)})` : '–'} | ${r.median.toFixed(3)} (${r.min.toFixed(3)}–${r.max.toFixed(3)}) | ${rps.length} |`,
    );
  }
  return rows.join('\n');
}
