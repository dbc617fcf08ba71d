import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { InterlockError } from '../../src/errors.ts';
import { validateAgainstSchema } from '../../src/policy/schema-validation.ts';

const dir = new URL('../../examples/policies/', import.meta.url);
const schema = readFileSync(new URL('interlock.cedarschema', dir), 'utf8');

test('every shipped example policy validates against the shipped Cedar schema', () => {
  const files = readdirSync(dir).filter((f) => f.endsWith('.cedar'));
  assert.ok(files.length >= 4);
  for (const file of files) validateAgainstSchema(readFileSync(new URL(file, dir), 'utf8'), schema);
});

test('a typo in an attribute, or a wrong type, fails validation with IL_ERR_POLICY_INVALID', () => {
  for (const text of ['permit (principal, action, resource) when { resource.clasification == "public" };', 'permit (principal, action, resource) when { context.method == 3 };']) {
    assert.throws(() => validateAgainstSchema(text, schema), (e: unknown) => e instanceof InterlockError && e.code === 'IL_ERR_POLICY_INVALID');
  }
});
