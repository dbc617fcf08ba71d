import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { ERRORS, InterlockError } from '../src/errors.ts';

const doc = readFileSync(new URL('../docs/errors.md', import.meta.url), 'utf8');

function documentedRows(): Map<string, number> {
  const rows = new Map<string, number>();
  for (const match of doc.matchAll(/^\| `(IL_ERR_[A-Z0-9_]+)` \| (\d{3}) \|/gm)) rows.set(match[1]!, Number(match[2]));
  return rows;
}

test('docs/errors.md documents exactly the codes in src/errors.ts, with the same HTTP status', () => {
  const documented = documentedRows();
  assert.deepEqual([...documented.keys()].sort(), Object.keys(ERRORS).sort());
  for (const [code, spec] of Object.entries(ERRORS)) assert.equal(documented.get(code), spec.status, `${code} status differs`);
});

test('every code follows IL_ERR_<AREA>_<THING>', () => {
  for (const code of Object.keys(ERRORS)) assert.match(code, /^IL_ERR_[A-Z]+(_[A-Z0-9]+)*$/);
});

test('an error renders as one line with code, field and hint, and never a stack', () => {
  const error = new InterlockError('IL_ERR_SPIFFE_ID_INVALID', 'bad id', { field: '--id', hint: 'try spiffe://td/x' });
  assert.equal(error.toLine(), 'IL_ERR_SPIFFE_ID_INVALID: bad id [--id] (hint: try spiffe://td/x)');
  assert.equal(error.status, 400);
  assert.deepEqual(error.toJSON(), { code: 'IL_ERR_SPIFFE_ID_INVALID', message: 'bad id', field: '--id', hint: 'try spiffe://td/x' });
});
