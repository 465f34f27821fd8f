import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** The compiled entry points, next to the compiled tests (dist/test/support → dist/src). */
export const MAIN_JS = fileURLToPath(new URL('../../src/main.js', import.meta.url));
export const CLI_JS = fileURLToPath(new URL('../../src/cli.js', import.meta.url));

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function runCli(args: string[], env: Record<string, string>): Promise<CliResult> {
  return runCommand(process.execPath, [CLI_JS, ...args], { env: { PATH: process.env.PATH ?? '', ...env } });
}

/**
 * This process's environment without what an enclosing `npm test` exports (npm_config_*, npm_package_*, INIT_CWD),
 * which would point an inner npm at this repository instead of the folder it runs in, and without the runner's
 * NODE_ENV.
 */
export function npmFreeEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (value !== undefined && !name.toLowerCase().startsWith('npm_') && name !== 'NODE_ENV' && name !== 'INIT_CWD') env[name] = value;
  }
  return { ...env, npm_config_update_notifier: 'false', ...extra };
}

/** Runs a command to its end, collecting both streams. `env` is the whole environment (nothing is inherited). */
export function runCommand(command: string, args: string[], options: { cwd?: string; env: Record<string, string | undefined> }): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: options.cwd, env: options.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('exit', (code) => resolve({ code: code ?? 1, stdout, stderr }));
  });
}

/** Starts `node dist/src/main.js` and resolves once it logs that it is listening. */
export function startServerProcess(env: Record<string, string>): Promise<{ child: ChildProcess; output: () => string }> {
  return startUntilListening(process.execPath, [MAIN_JS], { env: { PATH: process.env.PATH ?? '', ...env } });
}

/** Starts a Gatehouse server however it is launched, and resolves once it logs that it is listening. */
export function startUntilListening(
  command: string,
  args: string[],
  options: { cwd?: string; env: Record<string, string | undefined>; timeoutSeconds?: number },
): Promise<{ child: ChildProcess; output: () => string }> {
  const timeoutSeconds = options.timeoutSeconds ?? 60;
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: options.cwd, env: options.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const timer = setTimeout(() => reject(new Error(`${[command, ...args].join(' ')} did not start in ${timeoutSeconds} s:\n${output}`)), timeoutSeconds * 1000);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('gatehouse listening')) {
        clearTimeout(timer);
        resolve({ child, output: () => output });
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${[command, ...args].join(' ')} exited with ${code}:\n${output}`));
    });
  });
}

export function exitOf(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => {
    if (child.exitCode !== null) resolve(child.exitCode);
    else child.once('exit', (code) => resolve(code));
  });
}
