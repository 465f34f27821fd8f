import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { hkdfSync, randomBytes } from 'node:crypto';
import type { GatehouseConfig } from './config.js';

/** Key material derived once at boot. Never logged, never returned by any endpoint. */
export interface Secrets {
  /** AES-256-GCM key for private signing keys at rest. */
  encryptionKey: Buffer;
  /** HMAC key for signed cookies and CSRF tokens. */
  cookieKey: Buffer;
}

export const GATEHOUSE_SECRETS = Symbol('GATEHOUSE_SECRETS');

/**
 * ENCRYPTION_KEY comes from config; on the embedded database it may be left unset, and is then generated once
 * and kept (mode 0600) in the data folder beside the database it protects.
 * SESSION_SECRET is optional everywhere: without it the cookie key is derived from the encryption key, so every
 * instance that shares a database also shares cookie keys.
 */
export async function resolveSecrets(config: GatehouseConfig): Promise<Secrets> {
  const encryptionKey = config.encryptionKey ?? (await loadOrCreateKeyFile(config.dataDir));
  const cookieSeed = config.sessionSecret ? Buffer.from(config.sessionSecret, 'utf8') : encryptionKey;
  const cookieKey = Buffer.from(hkdfSync('sha256', cookieSeed, 'gatehouse', 'cookie-signing-v1', 32));
  return { encryptionKey, cookieKey };
}

async function loadOrCreateKeyFile(dataDir: string): Promise<Buffer> {
  const file = join(dataDir, 'encryption.key');
  try {
    const key = Buffer.from((await readFile(file, 'utf8')).trim(), 'hex');
    if (key.length !== 32) throw new Error(`${file} does not hold a 32-byte hex key`);
    return key;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  const key = randomBytes(32);
  // 'wx' fails if another process created the file first; then read theirs.
  try {
    await writeFile(file, key.toString('hex') + '\n', { mode: 0o600, flag: 'wx' });
    return key;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    return Buffer.from((await readFile(file, 'utf8')).trim(), 'hex');
  }
}
