import type { Mode } from './apps/mode';
import type { BenchResults, ContendedRun, PairedResult, Scenario, ScenarioRun, Spread, Target } from './results';
import { spread } from './stats';

/** Fastify: `ours` on Fastify against the Fastify floor, reads and changes. */
export const FASTIFY_FLOOR_GOAL = 0.95;
/** Fastify: a visitor without a cookie on Fastify, against the Fastify ceiling. */
export const FASTIFY_NO_COOKIE_GOAL = 0.97;

type Run = Pick<ScenarioRun, 'round' | 'mode' | 'load'> & { scenario: string };

/** The req/s of `of` over `to`'s, round by round (both ran in the same round and scenario), summarised. */
function perRound(runs: Run[], scenario: string, of: Mode, to: Mode): Spread | undefined {
  const ratios: number[] = [];
  for (const run of runs.filter((r) => r.mode === of && r.scenario === scenario)) {
    const other = runs.find((r) => r.mode === to && r.scenario === scenario && r.round === run.round);
    if (other && other.load.rps > 0) ratios.push(run.load.rps / other.load.rps);
  }
  return ratios.length ? spread(ratios) : undefined;
}

const fmt = (s: Spread) => `${s.median.toFixed(2)} (${s.min.toFixed(2)}–${s.max.toFixed(2)})`;

/** The paired section's ratio of the same two modes in the same scenario, when it ran them. */
function pairedNote(paired: PairedResult[] | undefined, scenario: Scenario, of: Mode, to: Mode): string {
  const ratio = paired?.find((p) => p.name === scenario)?.ratios.find((r) => r.of === of && r.to === to);
  if (!ratio) return '';
  const cpu = ratio.cpu ? `, by app CPU ${ratio.cpu.median.toFixed(2)}` : '';
  return `; paired: ${ratio.median.toFixed(2)} (p25–p75 ${ratio.p25.toFixed(2)}–${ratio.p75.toFixed(2)}, ${ratio.blocks} blocks${cpu})`;
}

/**
 * The targets for Fastify, from the load rounds (ratios taken round by round, so both modes
 * met the same machine) and the contended section; the paired section's figure is added where it
 * ran the same two modes.
 */
export function fastifyTargets(results: BenchResults): Target[] {
  const targets: Target[] = [];
  const runs = results.runs;
  for (const scenario of ['read', 'write'] as const) {
    const floor = perRound(runs, scenario, 'ours-fastify', 'floor-fastify');
    if (floor) {
      targets.push({
        name: `Fastify ${scenario}: ours-fastify ÷ floor-fastify`,
        wanted: `≥ ${FASTIFY_FLOOR_GOAL.toFixed(2)}`,
        measured: fmt(floor) + pairedNote(results.paired, scenario, 'ours-fastify', 'floor-fastify'),
        pass: floor.median >= FASTIFY_FLOOR_GOAL,
      });
    }
    const peer = perRound(runs, scenario, 'ours-fastify', 'fastify-session');
    if (peer) {
      targets.push({
        name: `Fastify ${scenario}: ahead of @fastify/session + Redis`,
        wanted: '> 1',
        measured: fmt(peer) + pairedNote(results.paired, scenario, 'ours-fastify', 'fastify-session'),
        pass: peer.median > 1,
      });
    }
    const platforms = perRound(runs, scenario, 'ours-fastify', 'ours');
    const ceilings = perRound(runs, scenario, 'none-fastify', 'none');
    if (platforms && ceilings) {
      targets.push({
        name: `${scenario}: ours on Fastify ÷ ours on Express, req/s`,
        wanted: `≥ the ceilings' none-fastify ÷ none, ${fmt(ceilings)}`,
        measured: fmt(platforms) + pairedNote(results.paired, scenario, 'ours-fastify', 'ours'),
        pass: platforms.median > 1 && platforms.median >= ceilings.median,
      });
    }
  }
  const anonymous = results.summaries.find((s) => s.mode === 'ours-fastify' && s.scenario === 'no-cookie');
  if (anonymous?.ratio) {
    targets.push({
      name: 'Fastify no-cookie: ours-fastify vs none-fastify, and Redis commands',
      wanted: `≥ ${FASTIFY_NO_COOKIE_GOAL.toFixed(2)}, 0 commands`,
      measured: `${fmt(anonymous.ratio)}; ${anonymous.executedPerRequest.toFixed(3)} executed, ${anonymous.sentPerRequest.toFixed(3)} sent`,
      pass: anonymous.ratio.median >= FASTIFY_NO_COOKIE_GOAL && anonymous.executedPerRequest === 0 && anonymous.sentPerRequest === 0,
    });
  }
  targets.push(...contendedFastifyTargets(results.contended));
  return targets;
}

/** One session on one process: ahead of the peer (round by round), and every acknowledged addition kept. */
function contendedFastifyTargets(runs: ContendedRun[]): Target[] {
  const targets: Target[] = [];
  const peer = perRound(runs, 'one-session', 'ours-fastify', 'fastify-session');
  if (peer) {
    targets.push({
      name: 'Fastify one-session: ahead of @fastify/session + Redis',
      wanted: '> 1',
      measured: fmt(peer),
      pass: peer.median > 1,
    });
  }
  const counted = runs.filter((r) => r.mode === 'ours-fastify' && r.kept);
  if (counted.length) {
    const lost = counted.reduce((n, r) => n + Math.max(0, r.kept!.acknowledged - r.kept!.kept), 0);
    const acknowledged = counted.reduce((n, r) => n + r.kept!.acknowledged, 0);
    const peerRuns = runs.filter((r) => r.mode === 'fastify-session' && r.kept);
    const peerKept = peerRuns.length
      ? `; @fastify/session kept ${peerRuns.reduce((n, r) => n + r.kept!.kept, 0).toLocaleString('en-US')} of ${peerRuns
          .reduce((n, r) => n + r.kept!.acknowledged, 0)
          .toLocaleString('en-US')}`
      : '';
    targets.push({
      name: 'Fastify contended: every acknowledged addition kept',
      wanted: '0 lost in every run',
      measured: `${lost.toLocaleString('en-US')} lost of ${acknowledged.toLocaleString('en-US')} acknowledged${peerKept}`,
      pass: lost === 0,
    });
  }
  return targets;
}
