import type { INestApplication } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import { createShopApp } from '../../../apps/shop/src/create-shop-app';
import { startBalancer, type Balancer } from '../../../scripts/demo/balancer';
import { testHttpPlatform } from '../../support/http-platform';

/** Replicas of the shop in this process, behind the demo's round-robin balancer. */
export interface ShopCluster {
  /** The balancer's base URL: what clients talk to. */
  url: string;
  replicaIds: string[];
  replicaUrls: string[];
  close(): Promise<void>;
}

/**
 * Starts `replicas` Nest apps on 127.0.0.1 (ports chosen by the system), each with its own REPLICA_ID
 * and its own Redis client, sharing `redisUrl` and one secret, and the balancer in front; on the platform
 * `platformOf` gives unless `extraEnv` sets HTTP_PLATFORM. In-process
 * is much faster to start than child processes, and each replica is still a separate Nest app.
 */
export async function startShopCluster(redisUrl: string, replicas = 3, extraEnv: Record<string, string> = {}): Promise<ShopCluster> {
  const secret = randomBytes(32).toString('base64url');
  const apps: INestApplication[] = [];
  let balancer: Balancer | undefined;
  const close = async () => {
    await balancer?.close();
    await Promise.all(apps.map((app) => app.close()));
  };
  try {
    for (let i = 1; i <= replicas; i++) {
      const env = { REDIS_URL: redisUrl, SESSION_SECRET: secret, REPLICA_ID: `replica-${i}`, PORT: '0', HTTP_PLATFORM: platformOf(i), ...extraEnv };
      const app = await createShopApp({ env, logger: ['error'] });
      apps.push(app);
      await app.listen(0, '127.0.0.1');
    }
    const replicaUrls = await Promise.all(apps.map(async (app) => (await app.getUrl()).replace('[::1]', '127.0.0.1')));
    balancer = await startBalancer({ targets: replicaUrls });
    return { url: balancer.url, replicaIds: apps.map((_, i) => `replica-${i + 1}`), replicaUrls, close };
  } catch (error) {
    await close();
    throw error;
  }
}

/**
 * The platform of replica `n` (from 1): TEST_HTTP_PLATFORM's, or with `TEST_SHOP_FLEET=mixed` (`npm run
 * test:shop-mixed`) Express, Fastify, Express… in turn, as a team migrating one replica at a time runs.
 */
function platformOf(n: number): string {
  if (process.env.TEST_SHOP_FLEET === 'mixed') return n % 2 === 1 ? 'express' : 'fastify';
  return testHttpPlatform();
}

/** The platform a replica of `startShopCluster` runs on, by its REPLICA_ID (`replica-<n>`). */
export function platformOfReplica(replicaId: string): string {
  return platformOf(Number(replicaId.replace('replica-', '')));
}
