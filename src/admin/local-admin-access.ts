import { Inject, Injectable, type OnApplicationShutdown } from '@nestjs/common';
import type { Request } from 'express';
import type { AddressInfo } from 'node:net';
import { mkdir } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { GATEHOUSE_CONFIG, type GatehouseConfig } from '../config/config.js';
import { safeEqual } from '../common/crypto.js';
import { localAdminFile, removeLocalAdminCredential, writeLocalAdminCredential } from './local-admin-file.js';

/**
 * Admin access for whoever may read this server's data folder: a random token, new each boot, published in
 * DATA_DIR/local-admin.json (0600) with the URL to reach it, and accepted only on a connection from this machine.
 * That lets the CLI administer a running server on the default setup, without ADMIN_TOKEN.
 */
@Injectable()
export class LocalAdminAccess implements OnApplicationShutdown {
  readonly token = randomBytes(32).toString('base64url');
  private published = false;

  constructor(@Inject(GATEHOUSE_CONFIG) private readonly config: GatehouseConfig) {}

  /**
   * This process's token, from a loopback peer, not relayed: a reverse proxy on the same machine connects from
   * loopback too, but says whom it forwards for.
   */
  accepts(token: string, request: Request): boolean {
    if (!isLoopbackAddress(request.socket.remoteAddress)) return false;
    if (request.headers['x-forwarded-for'] !== undefined || request.headers.forwarded !== undefined) return false;
    return safeEqual(token, this.token);
  }

  /**
   * Writes the credential for the address the server listens on; the file's path, or null when that address
   * cannot be reached over loopback (HOST set to one external interface).
   */
  async publish(address: AddressInfo | string | null): Promise<string | null> {
    const url = typeof address === 'object' && address ? loopbackUrl(address) : null;
    if (!url) return null;
    await mkdir(this.config.dataDir, { recursive: true, mode: 0o700 });
    await writeLocalAdminCredential(this.config.dataDir, { url, token: this.token, pid: process.pid });
    this.published = true;
    return localAdminFile(this.config.dataDir);
  }

  async onApplicationShutdown(): Promise<void> {
    if (this.published) await removeLocalAdminCredential(this.config.dataDir, this.token).catch(() => undefined);
  }
}

export function isLoopbackAddress(address: string | undefined): boolean {
  if (!address) return false;
  const ip = address.startsWith('::ffff:') ? address.slice(7) : address;
  return ip === '::1' || /^127(\.\d{1,3}){3}$/.test(ip);
}

/** The loopback URL of a listening address: wildcard addresses are reachable on 127.0.0.1 too. */
export function loopbackUrl(address: AddressInfo): string | null {
  if (address.address === '0.0.0.0' || address.address === '::') return `http://127.0.0.1:${address.port}`;
  if (!isLoopbackAddress(address.address)) return null;
  return address.family === 'IPv6' || address.address.includes(':') ? `http://[${address.address}]:${address.port}` : `http://${address.address}:${address.port}`;
}
