import { createHash } from 'node:crypto';
import type { ClientMetadata } from './client-metadata.js';

/**
 * JSON with object keys sorted at every level (arrays keep their order) and no whitespace: two objects with the
 * same members serialise identically whatever order their keys were written in.
 */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map((item) => canonicalJson(item ?? null)).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, item]) => item !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([key, item]) => `${JSON.stringify(key)}:${canonicalJson(item)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/**
 * The fingerprint of a registration: SHA-256 (hex) of the canonical JSON of the *validated* metadata, so fields
 * Gatehouse drops, defaults it fills in and key order make no difference. Software that registers again on every
 * start sends the same metadata and gets the same fingerprint.
 */
export function metadataFingerprint(metadata: ClientMetadata): string {
  return createHash('sha256').update(canonicalJson(metadata), 'utf8').digest('hex');
}
