import { createHash } from 'node:crypto';
import type { Tx } from './data-source.js';
import { returnedRows } from './returned-rows.js';
import { affected } from './housekeeping.js';

/**
 * Raw SQL with named parameters. A statement is written once, at module load, as a `sql` template whose
 * interpolations are parameters (`${p.tokenHash}`) or other fragments (a CTE another repository provides); it is
 * compiled then to PostgreSQL's `$1…$n` text, so a request only looks its values up by name. The compiled text is
 * what the checked-in `*.repository.sql` snapshots show (npm run sql:snapshot).
 */

/** A parameter: its value is the property `name` of the values a statement runs with. */
export class SqlParam<Name extends string = string, Value = unknown> {
  /** Type only: what the value must be. */
  declare readonly value?: Value;
  constructor(readonly name: Name) {}
}

type SqlItem = SqlParam<string, unknown> | SqlFragment<unknown>;

/** Part of a statement: text with parameters and fragments in it. `Values` is what its parameters need. */
export class SqlFragment<Values> {
  /** Type only: the values of its parameters, and of its fragments' parameters. */
  declare readonly values?: Values;
  constructor(
    readonly strings: readonly string[],
    readonly items: readonly SqlItem[],
  ) {}
}

type ValuesOfItem<I> = I extends SqlParam<infer Name, infer Value> ? { [K in Name]: Value } : I extends SqlFragment<infer Values> ? Values : never;
type Intersection<U> = (U extends unknown ? (u: U) => void : never) extends (i: infer I) => void ? I : never;
type ValuesOf<Items extends readonly SqlItem[]> = [Items[number]] extends [never] ? Record<never, never> : Intersection<ValuesOfItem<Items[number]>>;

/** A fragment of SQL; `${…}` may only be a parameter or another fragment, never a value. */
export function sql<const Items extends readonly SqlItem[]>(strings: TemplateStringsArray, ...items: Items): SqlFragment<ValuesOf<Items>> {
  return new SqlFragment<ValuesOf<Items>>([...strings], items);
}

/** Text that is known when the code is written (an identifier, a list of columns), as a fragment. */
export function sqlText(text: string): SqlFragment<Record<never, never>> {
  return new SqlFragment([text], []);
}

/** Joins fragments with `separator`. */
export function sqlJoin<const Fragments extends ReadonlyArray<SqlFragment<unknown>>>(fragments: Fragments, separator: string): SqlFragment<ValuesOf<Fragments>> {
  const strings = fragments.length === 0 ? [''] : ['', ...fragments.slice(1).map(() => separator), ''];
  return new SqlFragment<ValuesOf<Fragments>>(strings, fragments);
}

/** The parameters of `Values`, by name: `params<{ id: string }>().id` is the parameter `id`, a string. */
export function params<Values extends object>(): { readonly [K in keyof Values & string]-?: SqlParam<K, Values[K]> } {
  return new Proxy({} as { readonly [K in keyof Values & string]-?: SqlParam<K, Values[K]> }, {
    get: (_, name) => (typeof name === 'string' ? new SqlParam(name) : undefined),
  });
}

/** A statement compiled once: its `$1…$n` text and which value goes in each position. */
export class Statement<Values, Row = unknown> {
  /** The PostgreSQL text; a parameter used twice keeps its one position. */
  readonly text: string;
  /** The parameters by position: `$1` is `order[0]`. */
  readonly order: ReadonlyArray<keyof Values & string>;
  /** The prepared statement's name: one text per name on every connection. */
  readonly preparedName: string;
  /** Type only: what a row of its result looks like. */
  declare readonly row?: Row;

  constructor(
    readonly name: string,
    fragment: SqlFragment<Values>,
  ) {
    const order: string[] = [];
    // By name, and the text joined once: the write-behind's appends have thousands of parameters.
    const positions = new Map<string, number>();
    const parts: string[] = [];
    const compile = (part: SqlFragment<unknown>): void => {
      parts.push(part.strings[0] ?? '');
      part.items.forEach((item, i) => {
        if (item instanceof SqlParam) {
          let position = positions.get(item.name);
          if (position === undefined) positions.set(item.name, (position = order.push(item.name)));
          parts.push(`$${position}`);
        } else {
          compile(item);
        }
        parts.push(part.strings[i + 1] ?? '');
      });
    };
    compile(fragment);
    this.text = parts.join('');
    this.order = order as Array<keyof Values & string>;
    this.preparedName = `${name}_${createHash('sha256').update(this.text).digest('hex').slice(0, 12)}`;
  }

  /** The positional values; a parameter missing from `values` (undefined) is a bug, so it throws. */
  values(values: Values): unknown[] {
    return this.order.map((name) => {
      const value = (values as Record<string, unknown>)[name];
      if (value === undefined) throw new Error(`statement ${this.name}: no value for ${name}`);
      return value;
    });
  }

  /** The same statement, typed as returning `R` rows. */
  returning<R>(): Statement<Values, R> {
    return this as unknown as Statement<Values, R>;
  }
}

/** A statement named `name` (which names its prepared statement and its place in the snapshot). */
export function statement<Values>(name: string, fragment: SqlFragment<Values>): Statement<Values> {
  return new Statement(name, fragment);
}

/**
 * Runs a statement on TypeORM's ordinary path (`tx`, or the data source's manager): for statements that are not on a
 * request's hot path (Database.run prepares those). Returns the rows, an UPDATE's or DELETE's RETURNING rows too.
 */
export async function runStatement<Values, Row>(tx: Tx, statement: Statement<Values, Row>, values: Values): Promise<Row[]> {
  return returnedRows<Row>(await tx.query(statement.text, statement.values(values)));
}

/** Runs a DELETE or UPDATE as runStatement does, and returns how many rows it touched. */
export async function runCounting<Values>(tx: Tx, statement: Statement<Values>, values: Values): Promise<number> {
  return affected(await tx.query(statement.text, statement.values(values)));
}
