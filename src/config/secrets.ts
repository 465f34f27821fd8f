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
 * Values sealed at rest do not open with the configured key: ENCRYPTION_KEY changed (or, on the embedded database
 * without it, the key file was replaced). The message is for the operator; it names the key and what to do.
 */
export class EncryptionKeyMismatch extends Error {
  /**
   * `sealed`: what was sealed, with its verb (`the stored signing keys were`); `otherwise`: the way out when the
   * previous key is lost.
   */
  constructor(config: Pick<GatehouseConfig, 'encryptionKey' | 'dataDir'>, sealed: string, otherwise: string) {
    const key = config.encryptionKey ? 'ENCRYPTION_KEY' : `The encryption key in ${keyFile(config.dataDir)} (ENCRYPTION_KEY is unset)`;
    super(`${key} does not match the key ${sealed} sealed with: restore the previous key (see docs/operations.md, backup) or ${otherwise}`);
    this.name = 'EncryptionKeyMismatch';
  }
}

function keyFile(dataDir: string): string {
  return join(dataDir, 'encryption.key');
}

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
  const file = keyFile(dataDir);
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
