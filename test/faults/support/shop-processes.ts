import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { onHostExit } from '../../support/host-process';
import { freePorts } from '../../support/ports';

const ROOT = join(__dirname, '..', '..', '..');
export const SHOP_MAIN = join(ROOT, 'dist', 'apps', 'shop', 'main.js');

/* eslint-disable @typescript-eslint/no-require-imports -- the demo's helpers are plain CommonJS scripts */
const { startReplica } = require(join(ROOT, 'scripts', 'demo', 'replica.js')) as {
  startReplica(options: { main: string; id: string; port: number; env: NodeJS.ProcessEnv; print: (line: string) => void }): Promise<{
    id: string;
    url: string;
    pid: number;
    stop(): Promise<void>;
  }>;
};
const { startBalancer } = require(join(ROOT, 'scripts', 'demo', 'balancer.js')) as typeof import('../../../scripts/demo/balancer');

/** Builds the shop (`npm run build`) unless FAULTS_SKIP_BUILD=1 and a build exists. */
export function buildShop(): void {
  if (process.env.FAULTS_SKIP_BUILD === '1' && existsSync(SHOP_MAIN)) return;
  const result = spawnSync('npm', ['run', 'build'], { cwd: ROOT, encoding: 'utf8', stdio: 'pipe' });
  if (result.status !== 0) throw new Error(`npm run build failed:\n${result.stdout}\n${result.stderr}`);
}

export interface ShopReplicas {
  /** The balancer's URL. */
  url: string;
  log: string[];
  stop(): Promise<void>;
}

/** Starts `count` replicas of the built shop as child processes with `redisEnv`, and the demo's balancer in front. */
export async function startShopReplicas(redisEnv: NodeJS.ProcessEnv, count = 3): Promise<ShopReplicas> {
  const secret = randomBytes(32).toString('base64url');
  const ports = await freePorts(count);
  const log: string[] = [];
  const env: NodeJS.ProcessEnv = {
    NODE_ENV: 'production',
    SESSION_SECRET: secret,
    SESSION_ENCRYPTION_KEYS: randomBytes(32).toString('base64'),
    REDIS_URL: '',
    REDIS_SENTINELS: '',
    REDIS_SENTINEL_NAME: '',
    REDIS_CLUSTER: '',
    ...redisEnv,
  };
  const replicas = await Promise.all(
    ports.map((port, i) => startReplica({ main: SHOP_MAIN, id: `replica-${i + 1}`, port, env, print: (line) => log.push(line) })),
  );
  const releases = replicas.map((replica) => onHostExit(() => process.kill(replica.pid, 'SIGKILL')));
  const balancer = await startBalancer({ targets: replicas.map((replica) => replica.url) });
  return {
    url: balancer.url,
    log,
    async stop() {
      await balancer.close();
      await Promise.all(replicas.map((replica) => replica.stop()));
      releases.forEach((release) => release());
    },
  };
}
