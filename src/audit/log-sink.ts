import { open, type FileHandle } from 'node:fs/promises';
import type { AuditEventV1 } from './audit-schema.js';
import type { AuditSink } from './audit-sink.js';

/**
 * JSON lines, one event per line, on stdout or appended to a file, synced before the cursor moves. The
 * application's own log lines go to stderr, so stdout carries events only and can be piped or collected apart.
 */
export class LogSink implements AuditSink {
  readonly id = 'log';
  readonly batchSize = 200;
  private file: FileHandle | null = null;

  constructor(private readonly target: { kind: 'stdout' } | { kind: 'file'; path: string }) {}

  async deliver(events: readonly AuditEventV1[]): Promise<void> {
    const text = events.map((event) => JSON.stringify(event) + '\n').join('');
    if (this.target.kind === 'stdout') {
      await new Promise<void>((resolve, reject) => process.stdout.write(text, (error) => (error ? reject(error) : resolve())));
      return;
    }
    this.file ??= await open(this.target.path, 'a', 0o600);
    await this.file.write(text);
    await this.file.datasync();
  }

  async close(): Promise<void> {
    await this.file?.close();
    this.file = null;
  }
}
