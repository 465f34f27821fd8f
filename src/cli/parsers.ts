import { InvalidArgumentError } from 'commander';

/**
 * Option parsers: each checks a value's form while the command line is parsed, before anything is opened. Rules
 * that need the database or the server's policy (https, ranges, known scopes) stay with the admin API.
 */

/** A misuse of the command line that commander does not see itself (exit code 2, like commander's own). */
export class UsageError extends Error {}

export function wholeNumber(value: string): number {
  if (!/^\d{1,12}$/.test(value)) throw new InvalidArgumentError('must be a whole number (seconds or a count)');
  return Number(value);
}

const DURATION_UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400 };

/** `90`, `90s`, `15m`, `24h`, `7d` → seconds. The server checks the range. */
export function duration(value: string): number {
  const match = /^(\d{1,9})([smhd]?)$/.exec(value.trim());
  if (!match) throw new InvalidArgumentError('must be a duration: seconds, or a number with s, m, h or d (e.g. 90s, 15m, 24h, 7d)');
  return Number(match[1]) * DURATION_UNITS[match[2] || 's']!;
}

export function absoluteUrl(value: string): string {
  try {
    new URL(value);
  } catch {
    throw new InvalidArgumentError('must be an absolute URL');
  }
  return value;
}

/** A server's base URL, without a trailing slash. */
export function serverUrl(value: string): string {
  return httpUrl(value).replace(/\/+$/, '');
}

export function httpUrl(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new InvalidArgumentError('must be an http or https URL, e.g. https://auth.example.com');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new InvalidArgumentError('must be an http or https URL');
  return value;
}

/** Repeatable: every occurrence adds one URL. */
export function urlList(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), absoluteUrl(value)];
}

/** `a,b c` → ['a', 'b', 'c'] */
export function list(value: string): string[] {
  return value.split(/[\s,]+/).filter(Boolean);
}

export function nonEmpty(value: string): string {
  if (value.trim() === '') throw new InvalidArgumentError('must not be empty');
  return value;
}

export function jsonObject(what: string): (value: string) => Record<string, unknown> {
  return (value) => {
    let parsed: unknown;
    try {
      parsed = JSON.parse(value);
    } catch {
      throw new InvalidArgumentError(`must be ${what}`);
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new InvalidArgumentError(`must be ${what}`);
    return parsed as Record<string, unknown>;
  };
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function isUuid(value: string): boolean {
  return UUID.test(value);
}

/** `--scope-description docs:read="Read your documents"`, folded into one map over the repeated flag. */
export function scopeDescription(value: string, previous: Record<string, string> | undefined): Record<string, string> {
  const split = value.indexOf('=');
  if (split <= 0) throw new InvalidArgumentError('expected SCOPE=TEXT, e.g. docs:read="Read your documents"');
  const scope = value.slice(0, split);
  if (previous && scope in previous) throw new InvalidArgumentError(`${scope} is described twice`);
  return { ...previous, [scope]: value.slice(split + 1) };
}
