#!/usr/bin/env node
// tsc compiles TypeScript only: the console's browser scripts (src/console/assets/*.js) are copied beside the
// compiled console module, where ConsoleAssetsController reads them.
import { cpSync } from 'node:fs';

const root = new URL('..', import.meta.url);
cpSync(new URL('src/console/assets/', root), new URL('dist/src/console/assets/', root), { recursive: true });
