import { validate } from '@cedar-policy/cedar-wasm/nodejs';
import { InterlockError } from '../errors.ts';

/**
 * Optional Cedar schema validation (Cedar's strict validator): catches
 * policies that name attributes or entity types that do not exist, or
 * compare values of the wrong type — mistakes that otherwise surface only as
 * evaluation errors (denies) at run time. Runs when a version is proposed.
 */
export function validateAgainstSchema(policies: string, schema: string): void {
  let answer;
  try {
    answer = validate({ schema, policies: { staticPolicies: policies }, validationSettings: { mode: 'strict' } });
  } catch (error) {
    throw new InterlockError('IL_ERR_POLICY_INVALID', `schema validation failed to run: ${(error as Error).message}`, { field: 'schema' });
  }
  if (answer.type === 'failure') {
    throw new InterlockError('IL_ERR_POLICY_INVALID', `schema is not valid Cedar: ${answer.errors.map((e) => e.message).join('; ')}`, { field: 'schema' });
  }
  if (answer.validationErrors.length > 0) {
    const problems = answer.validationErrors.map((e) => `${e.policyId}: ${e.error.message}`).join('; ');
    throw new InterlockError('IL_ERR_POLICY_INVALID', `policies do not validate against the schema: ${problems}`, { field: 'text' });
  }
}
