import { Controller, Get, Inject, Req, Res } from '@nestjs/common';
import type { Request, Response } from 'express';
import { GATEHOUSE_CONFIG, type GatehouseConfig } from '../config/config.js';
import { safeEqual } from '../common/crypto.js';
import { InvalidToken, NotFound } from '../common/oauth-errors.js';
import { MetricsService } from './metrics.service.js';

const LOOPBACK = /^(127\.\d{1,3}\.\d{1,3}\.\d{1,3}|::1|::ffff:127\.\d{1,3}\.\d{1,3}\.\d{1,3})$/;

/**
 * GET /metrics (Prometheus text format). With METRICS_TOKEN: `Authorization: Bearer <token>`, compared in constant
 * time. Without: only callers on this machine that came through no proxy (a request carrying Forwarded or
 * X-Forwarded-For headers was relayed, perhaps from anywhere); everyone else gets 404, as if there were no metrics.
 */
@Controller()
export class MetricsController {
  constructor(
    @Inject(GATEHOUSE_CONFIG) private readonly config: GatehouseConfig,
    private readonly metrics: MetricsService,
  ) {}

  @Get('metrics')
  async scrape(@Req() req: Request, @Res() res: Response): Promise<void> {
    this.authorize(req);
    const { contentType, body } = await this.metrics.render();
    res.status(200).set({ 'content-type': contentType, 'cache-control': 'no-store' }).send(body);
  }

  private authorize(req: Request): void {
    const token = this.config.metricsToken;
    if (token) {
      const match = /^Bearer ([^\s]+)$/i.exec(req.headers.authorization ?? '');
      if (!match?.[1] || !safeEqual(match[1], token)) {
        throw new InvalidToken('a valid metrics bearer token is required').withChallenge(`Bearer realm="gatehouse-metrics"${match ? ', error="invalid_token"' : ''}`);
      }
      return;
    }
    const relayed = req.headers.forwarded !== undefined || req.headers['x-forwarded-for'] !== undefined || req.headers['x-real-ip'] !== undefined;
    if (relayed || !LOOPBACK.test(req.socket.remoteAddress ?? '')) throw new NotFound();
  }
}
