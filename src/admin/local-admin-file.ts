import { open, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';

/** What a running server tells local administrators (the CLI): where it listens, and a bearer for its admin API. */
export interface LocalAdminCredential {
  url: string;
  token: string;
  pid: number;
}

export const LOCAL_ADMIN_FILE = 'local-admin.json';

export function localAdminFile(dataDir: string): string {
  return join(dataDir, LOCAL_ADMIN_FILE);
}

/**
 * Writes the credential with owner-only permissions. It goes to a fresh file first (created 0600, never widened by
 * a umask) and is renamed over the old one, so a reader never sees half a file nor a moment of wider access.
 */
export async function writeLocalAdminCredential(dataDir: string, credential: LocalAdminCredential): Promise<void> {
  const target = localAdminFile(dataDir);
  const temporary = `${target}.${randomBytes(6).toString('hex')}.tmp`;
  const handle = await open(temporary, 'wx', 0o600);
  try {
    await handle.writeFile(JSON.stringify(credential) + '\n');
  } finally {
    await handle.close();
  }
  try {
    await rename(temporary, target);
  } catch (error) {
    await rm(temporary, { force: true });
    throw error;
  }
}

/** The credential in `dataDir`, or null when there is none or it is not one. */
export async function readLocalAdminCredential(dataDir: string): Promise<LocalAdminCredential | null> {
  let text: string;
  try {
    text = await readFile(localAdminFile(dataDir), 'utf8');
  } catch {
    return null;
  }
  try {
    const value = JSON.parse(text) as Partial<LocalAdminCredential>;
    if (typeof value.url !== 'string' || typeof value.token !== 'string' || typeof value.pid !== 'number') return null;
    return { url: value.url, token: value.token, pid: value.pid };
  } catch {
    return null;
  }
}

/** Removes the credential if it is still `token`'s: a server that started later on the same folder keeps its own. */
export async function removeLocalAdminCredential(dataDir: string, token: string): Promise<void> {
  const current = await readLocalAdminCredential(dataDir);
  if (current?.token === token) await rm(localAdminFile(dataDir), { force: true });
}
