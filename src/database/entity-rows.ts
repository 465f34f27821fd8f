import type { DataSource } from 'typeorm';

type SnakeCase<S extends string> = S extends `${infer Head}${infer Tail}` ? `${Head extends Lowercase<Head> ? Head : `_${Lowercase<Head>}`}${SnakeCase<Tail>}` : S;

/** The properties of an entity that hold a column's value: not its relations (entities). */
type ColumnKeys<E> = { [K in keyof E & string]-?: NonNullable<E[K]> extends Date | string | number | boolean | unknown[] ? K : never }[keyof E & string];

/** A value as a raw query returns it: a timestamp may come back as text. */
type RawValue<V> = V extends Date ? Date | string : V;

/**
 * An entity's row as a raw query returns it, derived from the entity: its columns under their database names (the
 * snake_case of the properties), timestamps as Date or text.
 */
export type RowOf<E> = { [K in ColumnKeys<E> as SnakeCase<K>]: RawValue<E[K]> };

/** The entity a raw row holds, mapped by the entity's own column metadata (names and timestamp types). */
export function entityFromRow<E extends object>(dataSource: DataSource, target: new () => E, row: RowOf<E>): E {
  const entity = new target();
  const raw = row as Record<string, unknown>;
  for (const column of dataSource.getMetadata(target).columns) {
    if (column.isVirtual) continue;
    const value = raw[column.databaseName];
    const timestamp = column.type === 'timestamptz' && (typeof value === 'string' || value instanceof Date);
    (entity as Record<string, unknown>)[column.propertyName] = timestamp ? new Date(value) : value;
  }
  return entity;
}
