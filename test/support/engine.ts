import { spawnSync } from 'node:child_process';

/**
 * The engine a server reports in `INFO server`, as "valkey 8.0.1" or "redis 7.4.1". Valkey also reports a
 * `redis_version` (the Redis release it is compatible with), so its own fields come first.
 */
export function engineOfInfo(info: string): string {
  const field = (name: string) => new RegExp(`^${name}:(.+)$`, 'm').exec(info)?.[1].trim();
  const valkey = field('valkey_version');
  if (valkey) return `valkey ${valkey}`;
  const redis = field('redis_version');
  if (!redis) throw new Error(`INFO server names no version:\n${info.slice(0, 300)}`);
  return `redis ${redis}`;
}

/**
 * The engine the harness starts: the one `npm run test:engines` asked for (TEST_REDIS_ENGINE), else what
 * `redis-server --version` on PATH prints.
 */
export function expectedEngine(): string {
  if (process.env.TEST_REDIS_ENGINE) return process.env.TEST_REDIS_ENGINE;
  const printed = spawnSync('redis-server', ['--version'], { encoding: 'utf8', timeout: 5_000 }).stdout ?? '';
  const match = /^(\w+) server v=(\S+)/.exec(printed.trim());
  if (!match) throw new Error(`redis-server --version printed "${printed.trim()}"`);
  return `${match[1].toLowerCase()} ${match[2]}`;
}
