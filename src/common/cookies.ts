import type { Request, Response } from 'express';
import { hmac, safeEqual } from './crypto.js';

export function readCookie(req: Request, name: string): string | undefined {
  const header = req.headers.cookie;
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() === name) {
      try {
        return decodeURIComponent(part.slice(eq + 1).trim());
      } catch {
        return undefined;
      }
    }
  }
  return undefined;
}

export interface CookieOptions {
  secure: boolean;
  maxAgeSeconds: number;
  path?: string;
}

/** Every Gatehouse cookie is HttpOnly and SameSite=Lax; Secure unless the issuer is loopback http. */
export function setCookie(res: Response, name: string, value: string, options: CookieOptions): void {
  res.cookie(name, value, {
    httpOnly: true,
    sameSite: 'lax',
    secure: options.secure,
    path: options.path ?? '/',
    maxAge: options.maxAgeSeconds * 1000,
  });
}

export function clearCookie(res: Response, name: string, options: { secure: boolean; path?: string }): void {
  res.clearCookie(name, { httpOnly: true, sameSite: 'lax', secure: options.secure, path: options.path ?? '/' });
}

/** `payload.signature`, where payload is base64url JSON and the signature an HMAC bound to the cookie's purpose. */
export function sealCookieValue(key: Buffer, purpose: string, payload: object): string {
  const body = Buffer.from(JSON.stringify(payload), 'utf8').toString('base64url');
  return `${body}.${hmac(key, `${purpose}.${body}`)}`;
}

export function openCookieValue<T>(key: Buffer, purpose: string, value: string | undefined): T | undefined {
  if (!value) return undefined;
  const dot = value.lastIndexOf('.');
  if (dot < 1) return undefined;
  const body = value.slice(0, dot);
  if (!safeEqual(value.slice(dot + 1), hmac(key, `${purpose}.${body}`))) return undefined;
  try {
    return JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as T;
  } catch {
    return undefined;
  }
}
