import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { LATEST_SCHEMA_VERSION, MIGRATIONS, nextMigration } from '../../src/store/migrations.ts';
import { InterlockError } from '../../src/errors.ts';

const applied = (n: number) => MIGRATIONS.slice(0, n).map((m) => ({ version: m.version, name: m.name }));

describe('migrations', () => {
  test('are numbered 1, 2, 3… and written for both databases', () => {
    assert.deepEqual(MIGRATIONS.map((m) => m.version), Array.from({ length: MIGRATIONS.length }, (_, i) => i + 1));
    assert.equal(LATEST_SCHEMA_VERSION, MIGRATIONS.length);
    for (const m of MIGRATIONS) assert.ok(m.name && m.sqlite.trim() && m.postgres.trim(), `migration ${m.version}`);
  });

  test('the next one to apply: the first on an empty database, none when up to date', () => {
    assert.equal(nextMigration([]), MIGRATIONS[0]);
    assert.equal(nextMigration(applied(LATEST_SCHEMA_VERSION)), undefined);
  });

  test('a newer database, or one migrated by a different build, is refused', () => {
    const refused = (rows: { version: number; name: string }[]) =>
      assert.throws(() => nextMigration(rows), (e) => e instanceof InterlockError && e.code === 'IL_ERR_STORE_MIGRATION_FAILED' && e.field === 'store');
    refused([...applied(LATEST_SCHEMA_VERSION), { version: LATEST_SCHEMA_VERSION + 1, name: 'future' }]);
    refused([{ version: 1, name: 'something else' }]);
    refused([{ version: 2, name: MIGRATIONS[1]?.name ?? 'x' }]);
  });
});
