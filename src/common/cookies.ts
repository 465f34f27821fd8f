import type { ServerResponse } from 'node:http';
import { hmac, safeEqual } from './crypto.js';
import type { HttpRequest } from './http.js';

export function readCookie(req: HttpRequest, name: string): string | undefined {
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
export function setCookie(res: ServerResponse, name: string, value: string, options: CookieOptions): void {
  const expires = new Date(Date.now() + options.maxAgeSeconds * 1000);
  res.appendHeader('Set-Cookie', serializeCookie(name, encodeURIComponent(value), `Max-Age=${options.maxAgeSeconds}`, options.path, expires, options.secure));
}

export function clearCookie(res: ServerResponse, name: string, options: { secure: boolean; path?: string }): void {
  res.appendHeader('Set-Cookie', serializeCookie(name, '', 'Max-Age=0', options.path, new Date(0), options.secure));
}

/** The Set-Cookie value, attributes in the order Express's res.cookie writes them. */
function serializeCookie(name: string, value: string, maxAge: string, path: string | undefined, expires: Date, secure: boolean): string {
  return `${name}=${value}; ${maxAge}; Path=${path ?? '/'}; Expires=${expires.toUTCString()}; HttpOnly${secure ? '; Secure' : ''}; SameSite=Lax`;
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
