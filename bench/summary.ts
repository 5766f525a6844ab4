import { CONTENDED_MODES, MODES, ceilingOf } from './apps/mode';
import { CONTENDED_SCENARIOS, SCENARIOS, type ContendedRun, type ContendedSummary, type ScenarioRun, type ScenarioSummary } from './results';
import { median, spread } from './stats';

/** Each run's ratios to the ceiling of its platform (`none`, `none-fastify`) in the same round and scenario. */
export function addRatios(runs: ScenarioRun[]): void {
  for (const run of runs) {
    const ceiling = runs.find((r) => r.mode === ceilingOf(run.mode) && r.round === run.round && r.scenario === run.scenario);
    if (!ceiling) continue;
    run.ratio = run.load.rps / ceiling.load.rps;
    if (run.appCpuPerRequest && ceiling.appCpuPerRequest) run.cpuRatio = ceiling.appCpuPerRequest / run.appCpuPerRequest;
  }
}

/** Every round of each mode and scenario folded into medians, min and max. */
export function summarise(runs: ScenarioRun[]): ScenarioSummary[] {
  const summaries: ScenarioSummary[] = [];
  for (const scenario of SCENARIOS) {
    for (const mode of MODES) {
      const mine = runs.filter((r) => r.mode === mode && r.scenario === scenario);
      if (mine.length === 0) continue;
      const ratios = mine.map((r) => r.ratio).filter((r): r is number => r !== undefined);
      const cpuRatios = mine.map((r) => r.cpuRatio).filter((r): r is number => r !== undefined);
      const cpu = mine.map((r) => r.appCpuPerRequest).filter((r): r is number => r !== undefined);
      const names = new Set(mine.flatMap((r) => Object.keys(r.commands)));
      summaries.push({
        mode,
        scenario,
        rps: spread(mine.map((r) => r.load.rps)),
        ratio: ratios.length ? spread(ratios) : undefined,
        p50: median(mine.map((r) => r.load.p50)),
        p99: median(mine.map((r) => r.load.p99)),
        errors: mine.reduce((sum, r) => sum + r.load.non2xx + r.load.errors, 0),
        executedPerRequest: median(mine.map((r) => r.executedPerRequest)),
        sentPerRequest: median(mine.map((r) => r.sentPerRequest)),
        roundTripsPerRequest: median(mine.map((r) => r.roundTripsPerRequest)),
        commands: Object.fromEntries([...names].sort().map((name) => [name, median(mine.map((r) => r.commands[name] ?? 0))])),
        appCpuPerRequest: cpu.length ? median(cpu) : undefined,
        cpuRatio: cpuRatios.length ? spread(cpuRatios) : undefined,
        otherCores: mine.some((r) => r.otherCores !== undefined) ? Math.max(...mine.map((r) => r.otherCores ?? 0)) : undefined,
      });
    }
  }
  return summaries;
}

/** Every round of each mode and contended scenario folded into medians, min and max; additions summed. */
export function summariseContended(runs: ContendedRun[]): ContendedSummary[] {
  const summaries: ContendedSummary[] = [];
  for (const scenario of CONTENDED_SCENARIOS) {
    for (const mode of CONTENDED_MODES) {
      const mine = runs.filter((r) => r.mode === mode && r.scenario === scenario);
      if (mine.length === 0) continue;
      const ratios = mine.map((r) => r.ratio).filter((r): r is number => r !== undefined);
      const cpu = mine.map((r) => r.appCpuPerRequest).filter((r): r is number => r !== undefined);
      const cpuRatios = mine.map((r) => r.cpuRatio).filter((r): r is number => r !== undefined);
      const names = new Set(mine.flatMap((r) => Object.keys(r.commands)));
      const counted = mine.filter((r) => r.kept);
      summaries.push({
        mode,
        scenario,
        rps: spread(mine.map((r) => r.load.rps)),
        ratio: ratios.length ? spread(ratios) : undefined,
        p99: spread(mine.map((r) => r.load.p99)),
        errors: mine.reduce((sum, r) => sum + r.load.non2xx + r.load.errors, 0),
        executedPerRequest: median(mine.map((r) => r.executedPerRequest)),
        sentPerRequest: median(mine.map((r) => r.sentPerRequest)),
        commands: Object.fromEntries([...names].sort().map((name) => [name, median(mine.map((r) => r.commands[name] ?? 0))])),
        otherCores: mine.some((r) => r.otherCores !== undefined) ? Math.max(...mine.map((r) => r.otherCores ?? 0)) : undefined,
        kept: counted.length
          ? {
              acknowledged: counted.reduce((n, r) => n + r.kept!.acknowledged, 0),
              received: counted.reduce((n, r) => n + r.kept!.received, 0),
              kept: counted.reduce((n, r) => n + r.kept!.kept, 0),
            }
          : undefined,
        lostPerRound: counted.length ? counted.map((r) => Math.max(0, r.kept!.acknowledged - r.kept!.kept)) : undefined,
        appCpuPerRequest: cpu.length ? median(cpu) : undefined,
        cpuRatio: cpuRatios.length ? spread(cpuRatios) : undefined,
      });
    }
  }
  return summaries;
}
