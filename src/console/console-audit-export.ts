import type { AuditEventV1 } from '../audit/audit-schema.js';

export interface JsonLinesResult {
  /** Events written. */
  count: number;
  /** More events matched than `max`: the last line written says so. */
  truncated: boolean;
}

export interface JsonLinesOptions {
  /** The events after a seq, oldest first, at most `limit` of them (a keyset page). */
  find: (after: number, limit: number) => Promise<AuditEventV1[]>;
  /** Writes a chunk; false once the reader has gone, which ends the export. */
  write: (chunk: string) => Promise<boolean>;
  max: number;
  pageSize: number;
}

/**
 * Events as JSON lines, one per line as the admin API shows them, page by page by seq, at most `max`. When more
 * matched, a last line `{"truncated":true,"max_events":…,"continue_after_seq":…}` says where to go on from.
 */
export async function writeJsonLines({ find, write, max, pageSize }: JsonLinesOptions): Promise<JsonLinesResult> {
  let count = 0;
  let after = 0;
  for (;;) {
    const room = max - count;
    // One more than there is room for: finding it is how the export knows it was cut short.
    const limit = Math.min(pageSize, room + 1);
    const page = await find(after, limit);
    const sent = page.slice(0, room);
    const last = sent[sent.length - 1];
    if (last) {
      if (!(await write(sent.map((event) => `${JSON.stringify(event)}\n`).join('')))) return { count, truncated: false };
      count += sent.length;
      after = last.seq;
    }
    if (page.length > sent.length) {
      await write(`${JSON.stringify({ truncated: true, max_events: max, continue_after_seq: after })}\n`);
      return { count, truncated: true };
    }
    if (page.length < limit) return { count, truncated: false };
  }
}
