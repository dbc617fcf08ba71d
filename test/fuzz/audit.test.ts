import assert from 'node:assert/strict';
import { webcrypto } from 'node:crypto';
import fc from 'fast-check';
import { fixedClock } from '../../src/clock.ts';
import { AUDIT_SIGNER_PATH, CHECKPOINT_TOKEN_TYPE, verifyCheckpoint, verifyExcerpt, type AuditExcerpt } from '../../src/audit/checkpoint.ts';
import { verifyEvidence } from '../../src/audit/evidence.ts';
import { nextRecord, recordSchemaProblem, type AuditRecord } from '../../src/audit/record.ts';
import { verifyRecordChain } from '../../src/audit/verify-records.ts';
import { signLeafCertificate } from '../../src/pki/certificates.ts';
import { generateKeyPair } from '../../src/pki/x509.ts';
import { makePki } from '../helpers/pki.ts';
import { anyString, base64url, mutatedJson, mutatedText } from './mutate.ts';
import { coded, fuzz } from './harness.ts';

const NOW = new Date();
const INCIDENT = '6f1c2b9e-8d4a-4c1e-9f0a-2b3c4d5e6f70';
const clock = fixedClock(NOW);
const events = [
  { type: 'svid.issued', actor: 'spiffe://east.acme.internal/ns/shop/sa/frontend', data: { serial: 'ab12', cluster: 'east' } },
  { type: 'policy.decision', data: { allowed: false, policyIds: ['p1'], context: { method: 'GET', path: '/x' } } },
  { type: 'incident.opened', actor: 'alice', data: { incident: INCIDENT, scope: { cluster: 'east' } } },
  { type: 'incident.remediated', actor: 'alice', data: { incident: INCIDENT, revoked: 2 } },
];
const records: AuditRecord[] = [];
for (const event of events) records.push(nextRecord(records.at(-1), event, clock));
const RECORD_KEYS = ['v', 'seq', 'time', 'type', 'actor', 'data', 'prev', 'hash', 'incident'];

/** Valid data, then nested `depth` levels deep: hashing recursed once per level and overflowed the stack. */
function deepRecord(depth: number): AuditRecord {
  const data = { deep: JSON.parse('['.repeat(depth) + ']'.repeat(depth)) as unknown };
  return { ...records[0]!, data: data as Record<string, unknown> };
}

const chains = fc.oneof(
  mutatedJson(records, RECORD_KEYS),
  fc.array(fc.oneof(fc.constantFrom(...records), fc.jsonValue()), { maxLength: 5 }),
  fc.integer({ min: 1, max: 20_000 }).map((depth) => [deepRecord(depth)]),
);

fuzz('verifyRecordChain: any list of records verifies only as an unaltered prefix of the chain, and never throws', [chains], async (list) => {
  const result = verifyRecordChain(list as unknown[]);
  if (result.ok) assert.deepEqual(list, records.slice(0, (list as unknown[]).length), 'only the real chain (or a prefix) verifies');
  else assert.ok(typeof result.reason === 'string' && Number.isFinite(result.badSeq));
  if (Array.isArray(list)) for (const value of list) assert.ok(['undefined', 'string'].includes(typeof recordSchemaProblem(value)));
}, {
  scale: 5,
  // Regressions: data nested 3,000+ deep overflowed the stack (RangeError) while hashing; a page that is not a list was a TypeError.
  examples: [[[deepRecord(10_000)]], [[deepRecord(3_000)]], [{} as unknown[]], [null as unknown as unknown[]]],
});

const pki = await makePki(NOW);
const signerKeys = await generateKeyPair();
const signerCert = await signLeafCertificate(pki.root, {
  uri: `spiffe://acme.internal${AUDIT_SIGNER_PATH}`, publicKey: signerKeys.publicKey, notBefore: new Date(NOW.getTime() - 60_000), notAfter: new Date(NOW.getTime() + 3_600_000),
});
const x5c = [Buffer.from(signerCert.rawData).toString('base64')];

async function sign(payload: unknown, header: Record<string, unknown> = { typ: CHECKPOINT_TOKEN_TYPE, x5c }): Promise<string> {
  const input = `${base64url(Buffer.from(JSON.stringify({ alg: 'ES256', ...header })))}.${base64url(Buffer.from(JSON.stringify(payload)))}`;
  return `${input}.${base64url(new Uint8Array(await webcrypto.subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, signerKeys.privateKey, Buffer.from(input))))}`;
}
const head = records.at(-1)!;
const checkpointPayload = { v: 1, seq: head.seq, hash: head.hash, at: NOW.toISOString() };
const checkpoint = await sign(checkpointPayload);
const excerpt: AuditExcerpt = { after: null, records, checkpoint };
const evidence = { v: 1, kind: 'interlock.evidence', incident: { id: INCIDENT, status: 'remediated', timeline: [{ at: NOW.toISOString(), step: 'opened' }, { at: NOW.toISOString(), step: 'remediated' }] }, audit: excerpt };
const EVIDENCE_KEYS = [...RECORD_KEYS, 'kind', 'id', 'timeline', 'step', 'at', 'audit', 'after', 'records', 'checkpoint'];

const checkpoints = fc.oneof(
  mutatedText(checkpoint, 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.'),
  fc.oneof(mutatedJson(checkpointPayload, ['v', 'seq', 'hash', 'at']), fc.jsonValue()).chain((payload) => fc.constant(payload)).map((payload) => ({ payload })),
  anyString,
);

fuzz('verifyCheckpoint: any checkpoint text or signed payload is a checkpoint or IL_ERR_EVIDENCE_INVALID', [checkpoints], async (input) => {
  const jws = typeof input === 'string' ? input : await sign(input.payload);
  await coded(() => verifyCheckpoint(jws, [pki.root.cert], NOW), ['IL_ERR_EVIDENCE_INVALID'], (verified) => {
    assert.ok(verified.v === 1 && Number.isInteger(verified.seq) && typeof verified.hash === 'string' && typeof verified.at === 'string');
  });
}, { scale: 2 });

const EXCERPT_CODES = ['IL_ERR_EVIDENCE_INVALID', 'IL_ERR_AUDIT_CHAIN_BROKEN'] as const;

/** What `interlock audit verify-export` hands verifyExcerpt: an object with a records list and a checkpoint string (readBundle checks that much). */
const excerpts = mutatedJson(excerpt, EVIDENCE_KEYS).filter((v) => typeof v === 'object' && v !== null && Array.isArray((v as AuditExcerpt).records) && typeof (v as AuditExcerpt).checkpoint === 'string');

fuzz('verifyExcerpt: any mutation of a signed excerpt is refused with a code, unless it changes nothing the checkpoint covers', [excerpts], async (value) => {
  await coded(() => verifyExcerpt(value as AuditExcerpt, [pki.root.cert], NOW), EXCERPT_CODES, (result) => {
    assert.equal(result.count, records.length);
    assert.deepEqual((value as AuditExcerpt).records, records);
  });
}, { scale: 1 });

fuzz('verifyEvidence: any mutation of an evidence bundle is verified (same incident, same records) or refused with a code', [fc.oneof(mutatedJson(evidence, EVIDENCE_KEYS), fc.jsonValue())], async (value) => {
  await coded(() => verifyEvidence(value, [pki.root.cert], NOW), EXCERPT_CODES, (result) => {
    assert.equal(result.incident, INCIDENT);
    assert.equal(result.records, records.length);
    assert.ok(result.steps.every((step) => typeof step === 'string'));
  });
}, {
  scale: 2,
  examples: [
    // Regression: a timeline entry that is not an object (null) made `t.step` a TypeError after everything else verified.
    [{ ...evidence, incident: { ...evidence.incident, timeline: [null] } }],
    // Regression: an excerpt with a valid checkpoint but no records array read `.length` of undefined.
    [{ ...evidence, audit: { checkpoint, after: null, records: 'none' } }],
  ],
});
