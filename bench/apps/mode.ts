import type { INestApplication } from '@nestjs/common';
import type { Cluster, Redis } from 'ioredis';

/**
 * The ways the bench app runs: no session (the ceiling), express-session + connect-redis, ours, and
 * ours with `metrics: true` (prom-client), whose difference to `ours` in the same round is the cost of metrics,
 * and ours with `nearCache: true` (issue 10: a warm read costs no round trip).
 */
export type Mode = 'none' | 'connect-redis' | 'ours' | 'ours-metrics' | 'ours-near-cache';
export const MODES: Mode[] = ['none', 'connect-redis', 'ours', 'ours-metrics', 'ours-near-cache'];
/** The modes of the contended and profile sections, which leave the near cache to the load section. */
export const BASE_MODES: Mode[] = MODES.filter((mode) => mode !== 'ours-near-cache');

/** Secret shared by both session layers (at least 32 characters, as ours requires). */
export const BENCH_SECRET = 'bench-secret-0123456789abcdef-0123456789';
/** Idle timeout of both layers: ours' default, given to connect-redis as its `ttl`. */
export const IDLE_TIMEOUT_S = 30 * 60; // 30 min

/** A mode's app, not yet listening, and the Redis client its session layer uses (if any). */
export interface BuiltApp {
  app: INestApplication;
  redis?: Redis | Cluster;
}
