import { after, before, describe, it } from 'node:test';
import { strict as assert } from 'node:assert';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createResource, startGatehouse, type RunningGatehouse } from '../support/gatehouse.js';
import { registerClient, type TestClient } from '../support/flows.js';
import { freePort } from '../support/net.js';
import { exitOf, npmFreeEnv, runCommand, type CliResult } from '../support/processes.js';

// Compiled to <dist>/test/e2e/: the repository is three folders up.
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/** Installs take a while on a cold npm cache; nothing here measures time. */
const SETUP_TIMEOUT_MS = 600_000;

/** The versions the repository itself runs, so the fresh project tests the same Nest and TypeScript. */
const PROJECT_DEPENDENCIES = ['@nestjs/common', '@nestjs/core', '@nestjs/platform-express', 'reflect-metadata', 'rxjs', 'typescript', '@types/node'];

const APP_SOURCE = `import 'reflect-metadata';
import { Controller, Get, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { AuthContext, GatehouseGuardModule, RequireScopes, type GatehouseAuth } from 'gatehouse-guard';

const { GATEHOUSE_URL, RESOURCE, PORT } = process.env;
if (!GATEHOUSE_URL || !RESOURCE || !PORT) throw new Error('GATEHOUSE_URL, RESOURCE and PORT are required');

@Controller('notes')
class NotesController {
  @Get()
  @RequireScopes('notes:read')
  list(@AuthContext() auth: GatehouseAuth): { sub: string; scopes: string[] } {
    return { sub: auth.sub, scopes: auth.scopes };
  }
}

@Module({
  imports: [GatehouseGuardModule.forRoot({ issuer: GATEHOUSE_URL, resource: RESOURCE, scopesSupported: ['notes:read', 'notes:write'], resourceName: 'Notes' })],
  controllers: [NotesController],
})
class AppModule {}

const app = await NestFactory.create(AppModule, { logger: ['error'] });
await app.listen(Number(PORT), '127.0.0.1');
console.log('notes listening');
`;

const MINT_SOURCE = `import { GatehouseError, mintToken, type TokenSet } from 'gatehouse-client';

const { GATEHOUSE_URL, REGISTRATION_SECRET, CLIENT_ID, SUBJECT, SCOPES } = process.env;
if (!GATEHOUSE_URL || !REGISTRATION_SECRET || !CLIENT_ID || !SUBJECT) throw new Error('GATEHOUSE_URL, REGISTRATION_SECRET, CLIENT_ID and SUBJECT are required');

try {
  const tokens: TokenSet = await mintToken({ baseUrl: GATEHOUSE_URL, registrationSecret: REGISTRATION_SECRET, clientId: CLIENT_ID, subject: SUBJECT, scopes: SCOPES?.split(' ') });
  console.log(JSON.stringify(tokens));
} catch (error) {
  if (!(error instanceof GatehouseError)) throw error;
  console.error(\`\${error.status} \${error.error}\`);
  process.exitCode = 1;
}
`;

/** The framework-free entry points, as a plain Node program would use them. */
const CORE_SOURCE = `import { AccessTokenVerifier, GatehouseAuthError, verifyAccessToken } from 'gatehouse-guard/core';
import { requireGatehouseAuth } from 'gatehouse-guard/express';

const { GATEHOUSE_URL, RESOURCE, TOKEN } = process.env;
if (!GATEHOUSE_URL || !RESOURCE) throw new Error('GATEHOUSE_URL and RESOURCE are required');

const verifier = new AccessTokenVerifier({ issuer: GATEHOUSE_URL, resource: RESOURCE });
if (typeof requireGatehouseAuth({ verifier }) !== 'function') throw new Error('no middleware');
try {
  const auth = await verifyAccessToken(TOKEN ? \`Bearer \${TOKEN}\` : undefined, { verifier, requiredScopes: ['notes:read'] });
  console.log(JSON.stringify({ sub: auth.sub }));
} catch (error) {
  if (!(error instanceof GatehouseAuthError)) throw error;
  console.log(JSON.stringify({ status: error.status, challenge: error.wwwAuthenticate }));
}
`;

const TSCONFIG = {
  compilerOptions: {
    target: 'es2023',
    module: 'nodenext',
    moduleResolution: 'nodenext',
    strict: true,
    experimentalDecorators: true,
    emitDecoratorMetadata: true,
    rootDir: 'src',
    outDir: 'dist',
    types: ['node'],
  },
  include: ['src/**/*.ts'],
};

function run(command: string, args: string[], cwd: string, env: Record<string, string> = npmFreeEnv()): Promise<CliResult> {
  return runCommand(command, args, { cwd, env });
}

async function mustRun(command: string, args: string[], cwd: string, env?: Record<string, string>): Promise<string> {
  const result = await run(command, args, cwd, env);
  if (result.code !== 0) throw new Error(`${command} ${args.join(' ')} exited with ${result.code}:\n${result.stdout}\n${result.stderr}`);
  return result.stdout;
}

async function installedVersion(name: string): Promise<string> {
  const manifest = JSON.parse(await readFile(join(ROOT, 'node_modules', name, 'package.json'), 'utf8')) as { version: string };
  return manifest.version;
}

/** Starts the compiled app and resolves once it listens. */
function startApp(project: string, env: Record<string, string>): Promise<ChildProcess> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['dist/main.js'], { cwd: project, env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('notes listening')) resolve(child);
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('exit', (code) => reject(new Error(`the app exited with ${code}:\n${output}`)));
  });
}

describe('gatehouse-guard and gatehouse-client, packed and installed into a fresh NestJS project', { timeout: SETUP_TIMEOUT_MS }, () => {
  let work: string;
  let project: string;
  let packed: Array<{ name: string; filename: string; files: Array<{ path: string }> }>;
  let gatehouse: RunningGatehouse;
  let resource: { registration_secret: string };
  let client: TestClient;
  let app: ChildProcess | undefined;
  let resourceUrl: string;
  let appUrl: string;

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'gatehouse-packages-'));
    const tarballs = join(work, 'tarballs');
    await mkdir(tarballs);
    // Built by `npm run build` before the tests, so packing needs no scripts (prepack would rebuild in place).
    const packOutput = await mustRun('npm', ['pack', '--workspace', 'packages/guard', '--workspace', 'packages/client', '--pack-destination', tarballs, '--ignore-scripts', '--json'], ROOT);
    packed = JSON.parse(packOutput) as typeof packed;

    project = join(work, 'project');
    await mkdir(project);
    await mustRun('npm', ['init', '-y'], project);
    const manifest = JSON.parse(await readFile(join(project, 'package.json'), 'utf8')) as Record<string, unknown>;
    await writeFile(join(project, 'package.json'), JSON.stringify({ ...manifest, type: 'module' }, null, 2));
    const versions = await Promise.all(PROJECT_DEPENDENCIES.map(async (name) => `${name}@${await installedVersion(name)}`));
    await mustRun('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', ...packed.map((tarball) => join(tarballs, tarball.filename)), ...versions], project);

    await mkdir(join(project, 'src'));
    await writeFile(join(project, 'src', 'main.ts'), APP_SOURCE);
    await writeFile(join(project, 'src', 'mint.ts'), MINT_SOURCE);
    await writeFile(join(project, 'src', 'core.ts'), CORE_SOURCE);
    await writeFile(join(project, 'tsconfig.json'), JSON.stringify(TSCONFIG, null, 2));
    await mustRun(process.execPath, [join(project, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json'], project);

    gatehouse = await startGatehouse();
    const port = await freePort();
    appUrl = `http://127.0.0.1:${port}`;
    resourceUrl = `${appUrl}/notes`;
    resource = await createResource(gatehouse, { name: 'Notes', resource: resourceUrl, scopes: ['notes:read', 'notes:write'], default_scopes: ['notes:read'] });
    client = await registerClient(gatehouse);
    app = await startApp(project, { GATEHOUSE_URL: gatehouse.url, RESOURCE: resourceUrl, PORT: String(port) });
  });

  after(async () => {
    if (app && app.exitCode === null) {
      app.removeAllListeners('exit');
      app.kill('SIGTERM');
      await exitOf(app);
    }
    await gatehouse?.close();
    if (work) await rm(work, { recursive: true, force: true });
  });

  /** Mints through the fresh project's own compiled code, which imports the installed gatehouse-client. */
  async function mint(subject: string, scopes: string[]): Promise<{ accessToken: string; scope: string }> {
    const env = npmFreeEnv({ GATEHOUSE_URL: gatehouse.url, REGISTRATION_SECRET: resource.registration_secret, CLIENT_ID: client.client_id, SUBJECT: subject, SCOPES: scopes.join(' ') });
    const result = await run(process.execPath, ['dist/mint.js'], project, env);
    assert.equal(result.code, 0, result.stderr);
    return JSON.parse(result.stdout) as { accessToken: string; scope: string };
  }

  it('packs each package with its JavaScript and declarations, without specs', () => {
    assert.deepEqual(packed.map((tarball) => tarball.name).sort(), ['gatehouse-client', 'gatehouse-guard']);
    for (const tarball of packed) {
      const files = tarball.files.map((file) => file.path);
      for (const expected of ['package.json', 'README.md', 'dist/index.js', 'dist/index.d.ts']) assert.ok(files.includes(expected), `${tarball.name} ships ${expected}`);
      assert.deepEqual(files.filter((file) => /\.spec\.|tsbuildinfo/.test(file)), [], `${tarball.name} ships no specs or build state`);
    }
    const guard = packed.find((tarball) => tarball.name === 'gatehouse-guard')!.files.map((file) => file.path);
    for (const entry of ['core', 'express']) {
      assert.ok(guard.includes(`dist/${entry}.js`) && guard.includes(`dist/${entry}.d.ts`), `gatehouse-guard ships its ${entry} entry point`);
    }
  });

  it('verifies tokens through gatehouse-guard/core in a plain Node program, and gives the challenge without one', async () => {
    const minted = await mint('user-44', ['notes:read']);
    const env = (token?: string) => npmFreeEnv({ GATEHOUSE_URL: gatehouse.url, RESOURCE: resourceUrl, ...(token ? { TOKEN: token } : {}) });
    const accepted = await run(process.execPath, ['dist/core.js'], project, env(minted.accessToken));
    assert.equal(accepted.code, 0, accepted.stderr);
    assert.deepEqual(JSON.parse(accepted.stdout), { sub: 'user-44' });
    const refused = await run(process.execPath, ['dist/core.js'], project, env());
    assert.equal(refused.code, 0, refused.stderr);
    assert.deepEqual(JSON.parse(refused.stdout), { status: 401, challenge: `Bearer scope="notes:read", resource_metadata="${appUrl}/.well-known/oauth-protected-resource/notes"` });
  });

  it('answers a request without a token with 401 and the RFC 9728 challenge', async () => {
    const response = await fetch(resourceUrl);
    assert.equal(response.status, 401);
    assert.equal(response.headers.get('www-authenticate'), `Bearer scope="notes:read", resource_metadata="${appUrl}/.well-known/oauth-protected-resource/notes"`);
  });

  it('serves the Protected Resource Metadata that names Gatehouse', async () => {
    const response = await fetch(`${appUrl}/.well-known/oauth-protected-resource/notes`);
    assert.equal(response.status, 200);
    assert.deepEqual(await response.json(), {
      resource: resourceUrl,
      authorization_servers: [gatehouse.url],
      bearer_methods_supported: ['header'],
      dpop_signing_alg_values_supported: ['ES256', 'RS256', 'PS256', 'EdDSA'],
      scopes_supported: ['notes:read', 'notes:write'],
      resource_name: 'Notes',
    });
  });

  it('lets a token minted by the installed gatehouse-client through, with its subject and scopes', async () => {
    const minted = await mint('user-42', ['notes:read']);
    assert.equal(minted.scope, 'notes:read');
    const response = await fetch(resourceUrl, { headers: { authorization: `Bearer ${minted.accessToken}` } });
    assert.equal(response.status, 200);
    assert.deepEqual(await response.json(), { sub: 'user-42', scopes: ['notes:read'] });
  });

  it('refuses a token without the route scope with 403 insufficient_scope', async () => {
    const minted = await mint('user-43', ['notes:write']);
    const response = await fetch(resourceUrl, { headers: { authorization: `Bearer ${minted.accessToken}` } });
    assert.equal(response.status, 403);
    const challenge = response.headers.get('www-authenticate') ?? '';
    assert.match(challenge, /^Bearer error="insufficient_scope", /);
    assert.match(challenge, / scope="notes:read", /);
    assert.ok(challenge.endsWith(`, resource_metadata="${appUrl}/.well-known/oauth-protected-resource/notes"`), challenge);
    assert.equal(((await response.json()) as { error: string }).error, 'insufficient_scope');
  });
});
