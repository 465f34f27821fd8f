#!/usr/bin/env node
// npm runs this on `npm ci` / `npm install` in a clone (and before `npm pack`): it builds dist/, so that
// `npm start` and the `gatehouse` command run the compiled files without building on every call.
// Installed with --omit=dev there is no compiler: a tree built before keeps its build; an unbuilt one cannot run.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

const root = new URL('..', import.meta.url).pathname;
if (!existsSync(new URL('../node_modules/.bin/tsc', import.meta.url))) {
  if (existsSync(new URL('../dist/src/main.js', import.meta.url))) process.exit(0);
  console.error(
    'gatehouse: dist/ is not built and TypeScript is not installed (--omit=dev). Run `npm ci` with the devDependencies, ' +
      'or install a packed gatehouse tarball (npm pack) with --omit=dev instead.',
  );
  process.exit(1);
}
const build = spawnSync('npm', ['run', '-s', 'build'], { cwd: root, stdio: 'inherit', shell: process.platform === 'win32' });
process.exit(build.status ?? 1);
