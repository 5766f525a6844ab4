import type { INestApplication, NestApplicationOptions } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter } from '@nestjs/platform-fastify';

/** The HTTP platforms the library runs on. */
export type TestHttpPlatform = 'express' | 'fastify';

/**
 * The platform the e2e apps run on: `TEST_HTTP_PLATFORM=fastify` runs the same suites on Nest's Fastify
 * adapter (`npm run test:fastify`); Express otherwise.
 */
export function testHttpPlatform(): TestHttpPlatform {
  const chosen = process.env.TEST_HTTP_PLATFORM ?? 'express';
  if (chosen !== 'express' && chosen !== 'fastify') throw new Error(`TEST_HTTP_PLATFORM must be express or fastify; got "${chosen}"`);
  return chosen;
}

/**
 * `NestFactory.create` on the given platform (the one of `TEST_HTTP_PLATFORM` by default). Fastify gets
 * its adapter created here, with `trustProxy` when the test wants its HTTPS verdict from
 * X-Forwarded-Proto, as Express's `trust proxy` does.
 */
export function createNestApp(
  module: Parameters<typeof NestFactory.create>[0],
  options: NestApplicationOptions = {},
  platform: TestHttpPlatform = testHttpPlatform(),
  fastifyOptions: { trustProxy?: boolean } = {},
): Promise<INestApplication> {
  if (platform === 'express') return NestFactory.create(module, options);
  return NestFactory.create(module, new FastifyAdapter(fastifyOptions), options);
}
