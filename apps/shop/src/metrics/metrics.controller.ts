import { Controller, Get, Header, Headers, Inject, Res, UnauthorizedException } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import type { Response } from 'express';
import { timingSafeEqual } from 'node:crypto';
import type { Registry } from 'prom-client';
import { Public } from '@app/session';
import { SHOP_CONFIG, type ShopConfig } from '../config/shop-config';
import { METRICS_REGISTRY } from './metrics-registry';

/** Prometheus text exposition of this replica's metrics; behind a bearer token when METRICS_TOKEN is set. */
@Public()
@Controller('metrics')
export class MetricsController {
  private readonly token: Buffer | undefined;

  constructor(
    @Inject(METRICS_REGISTRY) private readonly registry: Registry,
    @Inject(ConfigService) config: ConfigService,
  ) {
    const token = config.getOrThrow<ShopConfig>(SHOP_CONFIG).metricsToken;
    this.token = token === undefined ? undefined : Buffer.from(token);
  }

  @Get()
  @Header('Cache-Control', 'no-store')
  async metrics(@Headers('authorization') authorization: string | undefined, @Res() res: Response): Promise<void> {
    if (this.token && !this.authorized(authorization)) {
      throw new UnauthorizedException('GET /metrics needs "Authorization: Bearer <METRICS_TOKEN>"');
    }
    res.setHeader('Content-Type', this.registry.contentType);
    res.send(await this.registry.metrics());
  }

  private authorized(header: string | undefined): boolean {
    const given = Buffer.from(/^Bearer (.+)$/.exec(header ?? '')?.[1] ?? '');
    return given.length === this.token!.length && timingSafeEqual(given, this.token!);
  }
}
