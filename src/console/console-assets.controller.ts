import { Controller, Get, Param, Res } from '@nestjs/common';
import type { Response } from 'express';
import { readdirSync, readFileSync } from 'node:fs';
import { NotFound } from '../common/oauth-errors.js';
import { RateLimit } from '../rate-limit/rate-limit.decorator.js';

/** Copied beside the compiled module by `npm run build` (scripts/copy-assets.mjs). */
const ASSETS_DIRECTORY = new URL('./assets/', import.meta.url);

/** Read once at boot: the console's script files are part of the release, not something that changes while it runs. */
function loadAssets(): Map<string, Buffer> {
  return new Map(readdirSync(ASSETS_DIRECTORY).filter((name) => name.endsWith('.js')).map((name) => [name, readFileSync(new URL(name, ASSETS_DIRECTORY))]));
}

/** The console's script files, the only scripts its CSP (`script-src 'self'`) lets a console page run. */
@Controller('console/assets')
@RateLimit('authorize')
export class ConsoleAssetsController {
  private readonly assets = loadAssets();

  @Get(':name')
  serve(@Param('name') name: string, @Res() res: Response): void {
    const body = this.assets.get(name);
    if (!body) throw new NotFound(`no console asset ${name}`);
    res.setHeader('Content-Type', 'text/javascript; charset=utf-8');
    res.setHeader('Cache-Control', 'no-cache');
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.end(body);
  }
}
