import { Controller, Get, Inject, Res } from '@nestjs/common';
import type { ServerResponse } from 'node:http';
import { sendPage } from '../common/html.js';
import { GATEHOUSE_CONFIG, type GatehouseConfig } from '../config/config.js';
import { RateLimit } from '../rate-limit/rate-limit.decorator.js';
import { landingPage } from './landing-page.js';

/** The issuer URL opened in a browser answers a page rather than a JSON 404; every other unknown path still does. */
@Controller()
@RateLimit('discovery')
export class LandingController {
  private readonly html: string;

  constructor(@Inject(GATEHOUSE_CONFIG) config: GatehouseConfig) {
    // Depends on the configuration alone: built once.
    this.html = landingPage({ issuer: config.issuer, devLogin: config.devLogin });
  }

  @Get()
  show(@Res() res: ServerResponse): void {
    // The same for everyone and changed only by a restart: a short public cache, unlike the per-person pages.
    sendPage(res, 200, this.html, 'public, max-age=300');
  }
}
