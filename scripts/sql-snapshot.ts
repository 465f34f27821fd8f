// Writes each repository's `*.repository.sql` snapshot (see src/database/sql-snapshot.ts) and removes stale ones.
import { rm, writeFile } from 'node:fs/promises';
import { checkedInSnapshots, expectedSnapshots, sourcePath } from '../src/database/sql-snapshot.js';

const expected = await expectedSnapshots();
const current = new Map((await checkedInSnapshots()).map((snapshot) => [snapshot.path, snapshot.text]));
for (const snapshot of expected) {
  if (current.get(snapshot.path) !== snapshot.text) {
    await writeFile(snapshot.path, snapshot.text);
    console.log(`wrote ${sourcePath(snapshot.path)}`);
  }
  current.delete(snapshot.path);
}
for (const stale of current.keys()) {
  await rm(stale);
  console.log(`removed ${sourcePath(stale)}`);
}
