import type { INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import type { Platform } from './mode';

/**
 * A bench app's Nest application on the given platform, with the bench's logger levels. Fastify gets
 * Nest's adapter with its defaults, as a user's `main.ts` would create it; the controllers are the
 * same on both, since they touch only what both requests have (headers, the session, the body).
 */
export function createBenchApp(module: Parameters<typeof NestFactory.create>[0], platform: Platform): Promise<INestApplication> {
  const options = { logger: ['error' as const, 'warn' as const] };
  if (platform === 'express') return NestFactory.create(module, options);
  return NestFactory.create(module, new FastifyAdapter(), options);
}
