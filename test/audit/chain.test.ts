import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, appendFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { AuditLog } from '../../src/audit/chain-file.ts';
import { canonicalJson, computeRecordHash, GENESIS_HASH, nextRecord, type AuditRecord } from '../../src/audit/record.ts';
import { auditChainBrokenError, findAuditLogs, verifyAuditLog, type AuditVerification } from '../../src/audit/verify.ts';
import { fixedClock } from '../../src/clock.ts';
import { InterlockError } from '../../src/errors.ts';

const root = mkdtempSync(join(tmpdir(), 'interlock-audit-'));
after(() => rmSync(root, { recursive: true, force: true }));
let counter = 0;

/** A fresh log path in a not-yet-existing subdirectory. */
function freshPath(): string {
  counter += 1;
  return join(root, `case-${counter}`, 'nested', 'events.audit.jsonl');
}

/** Writes n records, one second apart, and returns them. */
function writeChain(path: string, n: number): AuditRecord[] {
  const clock = fixedClock('2025-01-01T00:00:00.000Z');
  const log = new AuditLog(path, clock);
  const records: AuditRecord[] = [];
  for (let i = 1; i <= n; i += 1) {
    records.push(log.append({ type: 'svid.issued', actor: 'spiffe://east.acme.internal/ns/ops/sa/cli', data: { serial: `s-${i}`, ttl: 3600 } }));
    clock.set(clock.now().getTime() + 1000);
  }
  return records;
}

function readLines(path: string): string[] {
  const lines = readFileSync(path, 'utf8').split('\n');
  assert.equal(lines.pop(), '', 'file ends with a newline');
  return lines;
}

function writeLines(path: string, lines: string[]): void {
  writeFileSync(path, lines.map((line) => `${line}\n`).join(''));
}

function assertBroken(v: AuditVerification): asserts v is Extract<AuditVerification, { ok: false }> {
  assert.equal(v.ok, false, `expected a broken chain, got ${JSON.stringify(v)}`);
}

describe('audit chain file', () => {
  test('an intact chain of 50 records verifies with its count and head', () => {
    const path = freshPath();
    const records = writeChain(path, 50);
    const v = verifyAuditLog(path);
    assert.deepEqual(v, { ok: true, path, count: 50, head: records[49]!.hash });
    assert.equal(records[0]!.prev, GENESIS_HASH);
    assert.equal(records[0]!.time, '2025-01-01T00:00:00.000Z');
    assert.deepEqual(records.map((r) => r.seq), Array.from({ length: 50 }, (_, i) => i + 1));
    for (let i = 1; i < 50; i += 1) assert.equal(records[i]!.prev, records[i - 1]!.hash);
    assert.deepEqual(readLines(path).map((line) => JSON.parse(line)), records, 'the file holds exactly the returned records');
    assert.equal(statSync(path).mode & 0o777, 0o600, 'only the owner can read the log');
  });

  test('altering one field of record 17 breaks the chain at 17', () => {
    const path = freshPath();
    writeChain(path, 50);
    const lines = readLines(path);
    const record = JSON.parse(lines[16]!);
    record.data.ttl = 86400;
    lines[16] = JSON.stringify(record);
    writeLines(path, lines);
    const v = verifyAuditLog(path);
    assertBroken(v);
    assert.equal(v.badSeq, 17);
    assert.equal(v.line, 17);
    assert.equal(v.count, 16);
    assert.match(v.reason, /altered/);
    const err = auditChainBrokenError(v);
    assert.ok(err instanceof InterlockError);
    assert.equal(err.code, 'IL_ERR_AUDIT_CHAIN_BROKEN');
    assert.equal(err.field, path);
    assert.match(err.message, /^record 17 \(line 17\) .*altered/);
  });

  test('altering record 17 and recomputing its hash breaks the chain at 18', () => {
    const path = freshPath();
    writeChain(path, 50);
    const lines = readLines(path);
    const { hash: _old, ...body } = JSON.parse(lines[16]!) as AuditRecord;
    const forged = { ...body, actor: 'spiffe://east.acme.internal/ns/ops/sa/someone-else' };
    lines[16] = JSON.stringify({ ...forged, hash: computeRecordHash(forged) });
    writeLines(path, lines);
    const v = verifyAuditLog(path);
    assertBroken(v);
    assert.equal(v.badSeq, 18);
    assert.equal(v.line, 18);
    assert.match(v.reason, /prev/);
  });

  test('removing record 10 breaks the chain at the record after it', () => {
    const path = freshPath();
    writeChain(path, 50);
    const lines = readLines(path);
    lines.splice(9, 1);
    writeLines(path, lines);
    const v = verifyAuditLog(path);
    assertBroken(v);
    assert.equal(v.badSeq, 11);
    assert.equal(v.line, 10);
    assert.equal(v.count, 9);
    assert.match(v.reason, /removed/);
  });

  test('renumbering the last record with its hash recomputed breaks the chain', () => {
    const path = freshPath();
    writeChain(path, 50);
    const lines = readLines(path);
    const { hash: _old, ...body } = JSON.parse(lines[49]!) as AuditRecord;
    const renumbered = { ...body, seq: 51 };
    lines[49] = JSON.stringify({ ...renumbered, hash: computeRecordHash(renumbered) });
    writeLines(path, lines);
    const v = verifyAuditLog(path);
    assertBroken(v);
    assert.equal(v.badSeq, 51);
    assert.equal(v.line, 50);
    assert.match(v.reason, /seq is 51, expected 50/);
  });

  test('swapping two records breaks the chain', () => {
    const path = freshPath();
    writeChain(path, 50);
    const lines = readLines(path);
    [lines[29], lines[30]] = [lines[30]!, lines[29]!];
    writeLines(path, lines);
    const v = verifyAuditLog(path);
    assertBroken(v);
    assert.equal(v.line, 30);
    assert.equal(v.badSeq, 31);
  });

  test('inserting a forged record with a correct own hash breaks the chain', () => {
    const path = freshPath();
    const records = writeChain(path, 50);
    const lines = readLines(path);
    const forged = nextRecord(records[19], { type: 'cluster.added', actor: 'mallory', data: { cluster: 'evil' } }, fixedClock('2025-01-01T00:00:20.500Z'));
    assert.equal(computeRecordHash(forged), forged.hash, 'the forgery is internally consistent');
    lines.splice(20, 0, JSON.stringify(forged));
    writeLines(path, lines);
    const v = verifyAuditLog(path);
    assertBroken(v);
    assert.equal(v.line, 22, 'the genuine record 21 no longer fits after the forgery');
    assert.equal(v.badSeq, 21);
  });

  test('a line that is not JSON breaks the chain and is named by line', () => {
    const path = freshPath();
    writeChain(path, 10);
    const lines = readLines(path);
    lines.splice(4, 0, 'this is not json {');
    writeLines(path, lines);
    const v = verifyAuditLog(path);
    assertBroken(v);
    assert.equal(v.line, 5);
    assert.equal(v.badSeq, 5);
    assert.equal(v.count, 4);
    assert.match(v.reason, /JSON/);
    assert.match(auditChainBrokenError(v).message, /\(line 5\)/);
  });

  test('a record with a duplicated key is refused even though its hash recomputes', () => {
    const path = freshPath();
    writeChain(path, 5);
    const lines = readLines(path);
    // JSON.parse keeps the last "data", so the hash still matches; grep shows the first.
    lines[2] = lines[2]!.replace('"data":', '"data":{"serial":"fake","ttl":1},"data":');
    writeLines(path, lines);
    const v = verifyAuditLog(path);
    assertBroken(v);
    assert.equal(v.line, 3);
    assert.match(v.reason, /duplicate keys/);
  });

  test('a torn last line is reported by verify and refused by append', () => {
    const path = freshPath();
    writeChain(path, 3);
    appendFileSync(path, '{"v":1,"seq":4,"ti');
    const v = verifyAuditLog(path);
    assertBroken(v);
    assert.equal(v.line, 4);
    assert.equal(v.count, 3);
    assert.throws(() => new AuditLog(path).append({ type: 'ca.created', data: {} }), { code: 'IL_ERR_AUDIT_CHAIN_BROKEN', field: path });

    // A whole last record that lost only its newline is torn too: appending would glue onto it.
    const clipped = freshPath();
    writeChain(clipped, 3);
    writeFileSync(clipped, readFileSync(clipped, 'utf8').slice(0, -1));
    const w = verifyAuditLog(clipped);
    assertBroken(w);
    assert.equal(w.line, 3);
    assert.match(w.reason, /newline/);
    assert.throws(() => new AuditLog(clipped).append({ type: 'ca.created', data: {} }), { code: 'IL_ERR_AUDIT_CHAIN_BROKEN' });
  });

  test('a new AuditLog continues the chain from the file, including after a record larger than one read chunk', () => {
    const path = freshPath();
    writeChain(path, 3);
    const big = new AuditLog(path).append({ type: 'policy.decision', data: { note: 'x'.repeat(20_000), utf8: 'é✓🔒'.repeat(500) } });
    assert.equal(big.seq, 4);
    const next = new AuditLog(path).append({ type: 'policy.decision', data: {} });
    assert.equal(next.seq, 5);
    assert.equal(next.prev, big.hash);
    assert.deepEqual(verifyAuditLog(path), { ok: true, path, count: 5, head: next.hash });
  });

  test('two processes appending 200 records each to one file give one valid chain of 400', async () => {
    const path = freshPath();
    mkdirSync(dirname(path), { recursive: true });
    const worker = fileURLToPath(new URL('./append-worker.ts', import.meta.url));
    // From the repository root, so `--import tsx` resolves wherever the tests were started.
    const cwd = fileURLToPath(new URL('../../', import.meta.url));
    const children = ['a', 'b'].map((writer) =>
      spawn(process.execPath, ['--import', 'tsx', worker, path, '200', writer], { cwd, stdio: ['pipe', 'pipe', 'inherit'] }),
    );
    // Start both at once, so the appends interleave rather than run one after the other.
    await Promise.all(children.map((child) => new Promise<void>((resolve, reject) => {
      child.once('error', reject);
      child.stdout.once('data', () => resolve());
    })));
    const exits = children.map((child) => new Promise<number | null>((resolve) => child.once('exit', resolve)));
    for (const child of children) child.stdin.end('go\n');
    assert.deepEqual(await Promise.all(exits), [0, 0]);

    const v = verifyAuditLog(path);
    assert.equal(v.ok, true, JSON.stringify(v));
    assert.equal(v.count, 400);
    const actors = readLines(path).map((line) => (JSON.parse(line) as AuditRecord).actor);
    assert.equal(actors.filter((a) => a === 'a').length, 200);
    assert.equal(actors.filter((a) => a === 'b').length, 200);
  });

  test('unreadable or unwritable logs raise IL_ERR_AUDIT_LOG_UNREADABLE naming the path', () => {
    const missing = join(root, 'does-not-exist.audit.jsonl');
    assert.throws(() => verifyAuditLog(missing), { code: 'IL_ERR_AUDIT_LOG_UNREADABLE', field: missing });
    const file = join(root, 'plain-file');
    writeFileSync(file, 'x');
    const under = join(file, 'events.audit.jsonl');
    assert.throws(() => new AuditLog(under).append({ type: 'ca.created', data: {} }), { code: 'IL_ERR_AUDIT_LOG_UNREADABLE', field: under });
  });

  test('findAuditLogs lists every *.audit.jsonl file under a directory, sorted', () => {
    const dir = join(root, 'find');
    for (const rel of ['b/z.audit.jsonl', 'a.audit.jsonl', 'b/deeper/c.audit.jsonl', 'b/z.audit.jsonl.lock', 'notes.jsonl', 'x.audit.json']) {
      mkdirSync(dirname(join(dir, rel)), { recursive: true });
      writeFileSync(join(dir, rel), '');
    }
    assert.deepEqual(findAuditLogs(dir), [join(dir, 'a.audit.jsonl'), join(dir, 'b/deeper/c.audit.jsonl'), join(dir, 'b/z.audit.jsonl')]);
    assert.throws(() => findAuditLogs(join(dir, 'missing')), { code: 'IL_ERR_AUDIT_LOG_UNREADABLE' });
  });
});

describe('audit record hash', () => {
  const clock = fixedClock('2025-06-01T12:00:00.000Z');

  test('the hash does not depend on the key order of data', () => {
    const one = nextRecord(undefined, { type: 'policy.decision', data: { allow: true, route: { cluster: 'east', service: 'db' }, ids: [1, { b: 2, a: 1 }] } }, clock);
    const two = nextRecord(undefined, { type: 'policy.decision', data: { ids: [1, { a: 1, b: 2 }], route: { service: 'db', cluster: 'east' }, allow: true } }, clock);
    assert.equal(one.hash, two.hash);
    const three = nextRecord(undefined, { type: 'policy.decision', data: { allow: false, route: { cluster: 'east', service: 'db' }, ids: [1, { b: 2, a: 1 }] } }, clock);
    assert.notEqual(three.hash, one.hash, 'but it does depend on the values');
  });

  test('canonical JSON sorts keys recursively and keeps array order (RFC 8785)', () => {
    assert.equal(canonicalJson({ b: [3, { z: 1, y: 'é' }], a: null, c: 1e21, d: -0 }), '{"a":null,"b":[3,{"y":"é","z":1}],"c":1e+21,"d":0}');
    assert.throws(() => canonicalJson({ n: Number.NaN }), { code: 'IL_ERR_INTERNAL' });
  });

  test('data is stored as it will be read back, so a Date in data still verifies', () => {
    const record = nextRecord(undefined, { type: 'ca.created', data: { at: new Date('2025-01-01T00:00:00Z'), gone: undefined } }, clock);
    assert.deepEqual(record.data, { at: '2025-01-01T00:00:00.000Z' });
    assert.equal(computeRecordHash(JSON.parse(JSON.stringify(record)) as AuditRecord), record.hash);
  });
});

test('a checkpoint catches records cut off the end of a chain, and a rewritten chain', async () => {
  const { checkpointProblem } = await import('../../src/audit/checkpoint.ts');
  const checkpoint = { seq: 2, hash: 'b', at: 't' };
  assert.equal(checkpointProblem(3, { seq: 2, hash: 'b' }, checkpoint), undefined);
  assert.match(checkpointProblem(1, undefined, checkpoint)!, /has 1 records, but a checkpoint signed at t says it had 2/);
  assert.match(checkpointProblem(2, { seq: 2, hash: 'x' }, checkpoint)!, /record 2 differs/);
});

test('single-writer mode: one write per append, the same valid chain, and it resumes from the file after a restart', () => {
  const dir = mkdtempSync(join(tmpdir(), 'interlock-single-'));
  try {
    const path = join(dir, 'gw.audit.jsonl');
    const first = new AuditLog(path, fixedClock(new Date('2026-01-01T00:00:00Z')), { singleWriter: true });
    for (let i = 0; i < 5; i++) first.append({ type: 'policy.decision', data: { i } });
    first.close();
    const second = new AuditLog(path, fixedClock(new Date('2026-01-01T00:00:01Z')), { singleWriter: true });
    assert.equal(second.append({ type: 'policy.decision', data: { i: 5 } }).seq, 6);
    second.close();
    const result = verifyAuditLog(path);
    assert.equal(result.ok, true);
    assert.equal(result.count, 6);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
