import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parsePolicies } from '../../src/policy/pdp.ts';
import { contextCandidates } from '../../src/reports/policy-values.ts';
import { sampleInstants } from '../../src/reports/time-samples.ts';

test('literals compared with context.method, path and purpose are collected, whichever side they are on', () => {
  const policies = parsePolicies(
    `permit (principal, action, resource) when {
       ["GET", "HEAD"].contains(context.method) && "/charges" == context.path && context.path like "/invoices/*"
       && context has purpose && context.purpose in ["audit"] && context.purpose != ""
       && resource.classification == "restricted" && context.time < datetime("2030-01-01")
     };
     forbid (principal, action, resource) when { context.method == "DELETE" };`,
    'test',
  );
  assert.deepEqual(contextCandidates(policies), {
    methods: ['DELETE', 'GET', 'HEAD'],
    paths: [
      { value: '/charges', label: '/charges' },
      { value: '/invoices/x', label: 'like "/invoices/*"' },
    ],
    // "restricted" is compared with a resource attribute, not with the purpose.
    purposes: ['', 'audit'],
    datetimes: ['2030-01-01'],
  });
});

test('time samples: the report instant, the half hour of every hour of its day, and a minute either side of each named datetime', () => {
  const samples = sampleInstants(new Date('2026-03-10T12:00:00Z'), ['2029-12-24T00:00:00Z', 'not a date']);
  assert.equal(samples.length, 1 + 24 + 2);
  assert.equal(samples[0], '2026-03-10T00:30:00.000Z');
  assert.ok(samples.includes('2026-03-10T12:00:00.000Z'));
  assert.deepEqual(samples.slice(-2), ['2029-12-23T23:59:00.000Z', '2029-12-24T00:01:00.000Z']);
});
