import { parse, protocol, type messages, type PGlite } from '@electric-sql/pglite';

/**
 * Named statements kept in the session at most. Each hot statement has one name (its text's hash), so this is only
 * reached by statements built per call (a batch with a varying number of rows); the oldest is then closed.
 */
const MAX_PREPARED = 256;

/** A statement's outcome, shaped as node-postgres's result: what TypeORM's `postgres` driver reads of it. */
export interface PgResult {
  rows: unknown[];
  rowCount: number;
  command: string;
}

/** node-postgres's query config: with a `name`, the statement is prepared once in the session and reused. */
export interface QueryConfig {
  name?: string;
  text: string;
  values?: unknown[];
}

type RowDescriptionMessage = messages.RowDescriptionMessage;

interface Prepared {
  /** Its parameters' type OIDs, for their serializers. */
  types: number[];
  /** Its rows' names and types; none for a statement that returns no rows. */
  rowDescription: RowDescriptionMessage | undefined;
}

/**
 * The one PGlite session, and what it has prepared; it lives in the thread that owns the PGlite instance. Parsing and
 * planning cost PGlite (PostgreSQL compiled to WebAssembly) far more than running a hot statement does, a few
 * milliseconds for a statement of several CTEs; a named statement is parsed and planned once, and then each call is
 * one Bind/Execute/Sync round into the database.
 */
export class PgliteSession {
  /** Prepared statement name → its parameters' type OIDs and its rows' description, oldest first. */
  private readonly prepared = new Map<string, Prepared>();

  constructor(readonly db: PGlite) {}

  /** A query in node-postgres's forms: (text, values) or a config with a name. */
  query(config: string | QueryConfig, params: unknown[] | undefined): Promise<PgResult> {
    if (typeof config === 'string') return this.run(config, params);
    if (config.name) return this.runNamed(config.name, config.text, config.values ?? []);
    return this.run(config.text, config.values);
  }

  close(): Promise<void> {
    return this.db.close();
  }

  private async run(sql: string, params: unknown[] | undefined): Promise<PgResult> {
    const command = commandOf(sql);
    if (params && params.length > 0) {
      const result = await this.db.query(sql, params);
      return { rows: result.rows, rowCount: result.affectedRows ?? result.rows.length, command };
    }
    const results = await this.db.exec(sql);
    const last = results[results.length - 1];
    return { rows: last?.rows ?? [], rowCount: last?.affectedRows ?? last?.rows.length ?? 0, command };
  }

  private async runNamed(name: string, sql: string, params: unknown[]): Promise<PgResult> {
    const { types, rowDescription } = this.prepared.get(name) ?? (await this.prepare(name, sql));
    // As PGlite's own query(): each value through the serializer of its parameter's type, else as text.
    const values = params.map((value, i) => {
      if (value === null || value === undefined) return null;
      const serializer = this.db.serializers[types[i] ?? 0];
      return serializer ? serializer(value) : String(value);
    });
    const { messages } = await this.db.execProtocol(
      concat([protocol.serialize.bind({ statement: name, values }), protocol.serialize.execute({}), protocol.serialize.sync()]),
    );
    // The rows' description was read once when the statement was prepared (it cannot change while it stays
    // prepared): asking for it again on every call would cost a Describe each time.
    const result = parse.parseResults(rowDescription ? [rowDescription, ...messages] : messages, this.db.parsers)[0];
    const rows = result?.rows ?? [];
    return { rows, rowCount: result?.affectedRows ?? rows.length, command: commandOf(sql) };
  }

  private async prepare(name: string, sql: string): Promise<Prepared> {
    const oldest = this.prepared.size >= MAX_PREPARED ? this.prepared.keys().next().value : undefined;
    if (oldest !== undefined) this.prepared.delete(oldest);
    const { messages } = await this.db.execProtocol(
      concat([
        ...(oldest === undefined ? [] : [protocol.serialize.close({ type: 'S', name: oldest })]),
        protocol.serialize.parse({ name, text: sql, types: [] }),
        protocol.serialize.describe({ type: 'S', name }),
        protocol.serialize.sync(),
      ]),
    );
    const prepared: Prepared = {
      types: parse.parseDescribeStatementResults(messages),
      rowDescription: messages.find((message): message is RowDescriptionMessage => message.name === 'rowDescription'),
    };
    this.prepared.set(name, prepared);
    return prepared;
  }
}

function commandOf(sql: string): string {
  return (/^\s*(\w+)/.exec(sql)?.[1] ?? '').toUpperCase();
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}
