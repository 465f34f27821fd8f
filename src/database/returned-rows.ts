/**
 * The rows of a raw `UPDATE … RETURNING` or `DELETE … RETURNING`: TypeORM hands those back as node-postgres's
 * [rows, count] (PGlite's pool mirrors it), while `SELECT` and `INSERT … RETURNING` come back as the rows alone.
 */
export function returnedRows<T>(result: unknown): T[] {
  if (Array.isArray(result) && result.length === 2 && Array.isArray(result[0]) && typeof result[1] === 'number') return result[0] as T[];
  return Array.isArray(result) ? (result as T[]) : [];
}
