#!/usr/bin/env node
import 'reflect-metadata';
import { main } from './cli/main.js';

// The `gatehouse` command (package.json bin): definitions in cli/program.ts, execution in cli/run.ts.
main(process.argv.slice(2)).then(
  (code) => {
    if (code !== null) process.exit(code);
  },
  (error: unknown) => {
    process.stderr.write(`gatehouse: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  },
);
