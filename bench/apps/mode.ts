import type { INestApplication } from '@nestjs/common';
import type { Cluster, Redis } from 'ioredis';

/**
 * The ways the bench app runs: no session (the ceiling), express-session + connect-redis, ours, ours
 * with `metrics: true` (prom-client) and ours with `encryption` on, whose differences to `ours` in the
 * same round are the costs of metrics and of encryption at rest, ours with `nearCache: true`
 * (issue 10: a warm read costs no round trip), and the floor: the least a Redis session layer can do
 * per request (`floor.app.ts`), without and with a near cache (`floor-cached`), a measuring stick for
 * how close to the ceiling any such layer can get. Those run on Express; on Fastify (Nest's
 * `FastifyAdapter`, issue 22) the ceiling, ours and the floor run again as `none-fastify`,
 * `ours-fastify` and `floor-fastify`, with the same controllers, and `fastify-session` is the peer a
 * Fastify user picks today: `@fastify/session` over a small ioredis store (`fastify-session.app.ts`).
 */
export type Mode =
  | 'none'
  | 'connect-redis'
  | 'ours'
  | 'ours-metrics'
  | 'ours-encrypted'
  | 'ours-near-cache'
  | 'floor'
  | 'floor-cached'
  | 'none-fastify'
  | 'ours-fastify'
  | 'floor-fastify'
  | 'fastify-session';
export const MODES: Mode[] = [
  'none',
  'connect-redis',
  'ours',
  'ours-metrics',
  'ours-encrypted',
  'ours-near-cache',
  'floor',
  'floor-cached',
  'none-fastify',
  'ours-fastify',
  'floor-fastify',
  'fastify-session',
];
/**
 * Modes measured under load only, where their cost or gain per request shows: encryption, the near
 * cache and the floor (which keeps no promise under contention and has nothing to compare there).
 */
const LOAD_ONLY_MODES: Mode[] = ['ours-encrypted', 'ours-near-cache', 'floor', 'floor-cached', 'floor-fastify'];
/** The modes of the contended and profile sections. */
export const CONTENDED_MODES: Mode[] = MODES.filter((mode) => !LOAD_ONLY_MODES.includes(mode));

/** The HTTP platform under Nest: its Express adapter (Nest's default) or its Fastify one. */
export type Platform = 'express' | 'fastify';
export const PLATFORMS: Platform[] = ['express', 'fastify'];
const FASTIFY_MODES: Mode[] = ['none-fastify', 'ours-fastify', 'floor-fastify', 'fastify-session'];

export function platformOf(mode: Mode): Platform {
  return FASTIFY_MODES.includes(mode) ? 'fastify' : 'express';
}

/** The ceiling a mode's ratios are taken to: the app without sessions on the same platform. */
export function ceilingOf(mode: Mode): Mode {
  return platformOf(mode) === 'fastify' ? 'none-fastify' : 'none';
}

export function isCeiling(mode: Mode): boolean {
  return ceilingOf(mode) === mode;
}

/** The `ours-encrypted` mode's key (32 bytes, base64): fixed, so the memory figures compare run to run. */
export const BENCH_ENCRYPTION_KEY = Buffer.alloc(32, 7).toString('base64');

/** Secret shared by both session layers (at least 32 characters, as ours requires). */
export const BENCH_SECRET = 'bench-secret-0123456789abcdef-0123456789';
/** Idle timeout of both layers: ours' default, given to connect-redis as its `ttl`. */
export const IDLE_TIMEOUT_S = 30 * 60; // 30 min

/** A mode's app, not yet listening, and the Redis client its session layer uses (if any). */
export interface BuiltApp {
  app: INestApplication;
  redis?: Redis | Cluster;
}
