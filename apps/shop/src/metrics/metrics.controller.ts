import { Controller, Get, Header, Headers, Inject, Res, UnauthorizedException } from '@nestjs/common';
import type { Response } from 'express';
import type { FastifyReply } from 'fastify';
import { timingSafeEqual } from 'node:crypto';
import type { Registry } from 'prom-client';
import { PublicRoute } from 'nest-redis-session';
import { ShopEnvironment } from '../config/shop-environment';
import { METRICS_REGISTRY } from './metrics-registry';

/** Prometheus text exposition of this replica's metrics; behind a bearer token when METRICS_TOKEN is set. */
@PublicRoute()
@Controller('metrics')
export class MetricsController {
  private readonly token: Buffer | undefined;

  constructor(
    @Inject(METRICS_REGISTRY) private readonly registry: Registry,
    env: ShopEnvironment,
  ) {
    const token = env.METRICS_TOKEN;
    this.token = token === undefined ? undefined : Buffer.from(token);
  }

  @Get()
  @Header('Cache-Control', 'no-store')
  async metrics(@Headers('authorization') authorization: string | undefined, @Res({ passthrough: true }) res: Response | FastifyReply): Promise<string> {
    if (this.token && !this.authorized(authorization)) {
      throw new UnauthorizedException('GET /metrics needs "Authorization: Bearer <METRICS_TOKEN>"');
    }
    // Express's response or Fastify's reply, as HTTP_PLATFORM says.
    if ('raw' in res) void res.header('Content-Type', this.registry.contentType);
    else res.setHeader('Content-Type', this.registry.contentType);
    return this.registry.metrics();
  }

  private authorized(header: string | undefined): boolean {
    const given = Buffer.from(/^Bearer (.+)$/.exec(header ?? '')?.[1] ?? '');
    return given.length === this.token!.length && timingSafeEqual(given, this.token!);
  }
}
