/**
 * The hash-chained audit log at a million records: append and verify
 * rates of the JSON-lines chain file and of the SQLite store, each next to
 * a peer measured in the same run.
 *
 *   node --import tsx bench/audit/run.ts [--records 1000000] [--own-records 100000]
 *                                        [--batch 500] [--page 10000] [--quick]
 *
 *   1. file append  AuditLog.append --records times (policy.decision events
 *                   shaped like the inbound gateway's); peers: plain JSON
 *                   lines with fs.appendFileSync per record and with a
 *                   buffered fs.WriteStream; two decomposition rows (the
 *                   chain without the lock file and reopen; the lock alone)
 *   2. file verify  verifyAuditLog over that file in a fresh process (peak
 *                   RSS); peers: sha256sum and openssl dgst over the file,
 *                   node:crypto over the file, and two partial passes
 *   3. store ingest --records records built with nextRecord, checked as the
 *                   ingest route checks them, then store.appendGatewayAudit
 *                   in batches of --batch; peer: the same rows into a plain
 *                   better-sqlite3 table. Then store.appendAudit (one
 *                   transaction per record) --own-records times; peer:
 *                   autocommit INSERTs
 *   4. store verify gatewayAuditSince page by page (--page) checked page by
 *                   page, and read whole then verifyRecordChain; auditSince +
 *                   verifyRecordChain for the control plane's chain
 *
 * --quick: --records 20000 --own-records 20000, a smoke run. Everything
 * lives in a temp folder removed at the end; steps run one after another.
 * Numbers and how to read them: docs/performance.md.
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { openStore } from '../../src/store/open.ts';
import { appendChain, appendChainHeldFd, appendPlainStream, appendPlainSync, lockOnly, SAMPLE_EVERY, type AppendResult } from './file-append.ts';
import { hashTool, nodeHashFile, parseAndHash, parseOnly, runVerifyChild, toolVersion, type PassResult } from './peers.ts';
import { printAppend, printIngest, printOwnChain, printReadVerify, printVerify } from './report.ts';
import { appendOwnChain, appendPeerPerRow, ingestGatewayBatches, openPeerDb } from './store-ingest.ts';
import { option, runHeader } from '../options.ts';


const QUICK = process.argv.includes('--quick');
const RECORDS = option('--records', QUICK ? 20_000 : 1_000_000);
const OWN_RECORDS = option('--own-records', Math.min(RECORDS, QUICK ? 20_000 : 100_000));
const BATCH = option('--batch', 500);
const PAGE = option('--page', 10_000);
const STREAM = 'bench';

const started = performance.now();
const log = (line: string) => process.stderr.write(`[${((performance.now() - started) / 1000).toFixed(0).padStart(4)} s] ${line}\n`);
const progress = (what: string) => (done: number) => log(`  ${what}: ${done.toLocaleString('en-US')}`);
const fileSize = (path: string) => {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
};

function fileAppends(dir: string): { rows: AppendResult[]; chainPath: string } {
  const chainPath = join(dir, 'gateway.audit.jsonl');
  log(`file append: AuditLog.append × ${RECORDS.toLocaleString('en-US')}`);
  const rows = [appendChain(chainPath, RECORDS, progress('AuditLog.append'))];
  const steps: Array<[string, (path: string) => AppendResult]> = [
    ['held-fd.jsonl', (p) => appendChainHeldFd(p, RECORDS, progress('nextRecord + writeSync'))],
    ['only.lock', (p) => lockOnly(p, RECORDS, progress('acquireLock + releaseLock'))],
    ['plain-sync.jsonl', (p) => appendPlainSync(p, RECORDS, progress('fs.appendFileSync'))],
  ];
  for (const [name, run] of steps) {
    log(`file append: ${name}`);
    const path = join(dir, name);
    rows.push(run(path));
    rmSync(path, { force: true });
  }
  return { rows, chainPath };
}

function filePasses(chainPath: string): PassResult[] {
  const passes: PassResult[] = [];
  log('peers: sha256sum, openssl dgst, node:crypto over the file');
  const sha = hashTool('peer: sha256sum (coreutils)', 'sha256sum', [], chainPath);
  const ossl = hashTool('peer: openssl dgst -sha256', 'openssl', ['dgst', '-sha256', '-r'], chainPath);
  for (const p of [sha, ossl]) if (p !== undefined) passes.push(p);
  passes.push(nodeHashFile(chainPath));
  log('decomposition: read + JSON.parse, then + computeRecordHash');
  passes.push(parseOnly(chainPath), parseAndHash(chainPath));
  return passes;
}

async function main(): Promise<void> {
  const loadBefore = loadavg();
  const dir = mkdtempSync(join(tmpdir(), 'interlock-bench-audit-'));
  const out: string[] = [];
  try {
    const { rows: appendRows, chainPath } = fileAppends(dir);
    const streamPath = join(dir, 'plain-stream.jsonl');
    log('file append: fs.WriteStream');
    appendRows.push(await appendPlainStream(streamPath, RECORDS, progress('fs.WriteStream')));
    rmSync(streamPath, { force: true });

    log('file verify: verifyAuditLog in a fresh process');
    const verify = runVerifyChild(['file', chainPath]);
    if (!verify.ok || verify.records !== RECORDS) throw new Error(`verifyAuditLog: ${verify.records} records, ${verify.detail}`);
    const passes = filePasses(chainPath);
    const chainMb = fileSize(chainPath) / 1024 / 1024;
    rmSync(chainPath, { force: true });

    const dbPath = join(dir, 'store', 'interlock.db');
    const peerPath = join(dir, 'peer.db');
    const store = await openStore(`sqlite:${dbPath}`);
    const peer = openPeerDb(peerPath);
    let ingest;
    let own;
    let ownPeer;
    try {
      log(`store ingest: appendGatewayAudit × ${RECORDS.toLocaleString('en-US')} in batches of ${BATCH}`);
      ingest = await ingestGatewayBatches(store, peer, RECORDS, BATCH, STREAM, progress('ingested'));
      log(`store: appendAudit × ${OWN_RECORDS.toLocaleString('en-US')}, then the peer's autocommit INSERTs`);
      own = await appendOwnChain(store, OWN_RECORDS);
      ownPeer = appendPeerPerRow(peer, OWN_RECORDS);
    } finally {
      await store.close();
      peer.close();
    }
    const mb = (path: string) => (fileSize(path) + fileSize(`${path}-wal`)) / 1024 / 1024;
    const dbMb = mb(dbPath);
    const peerMb = mb(peerPath);

    const reads: Array<{ name: string; args: string[]; expect: number }> = [
      { name: 'gateway stream: gatewayAuditSince, checked page by page', args: ['store-paged', dbPath, STREAM, String(PAGE)], expect: RECORDS },
      { name: 'gateway stream: gatewayAuditSince into one array, verifyRecordChain', args: ['store-whole', dbPath, STREAM, String(PAGE)], expect: RECORDS },
      { name: "control plane's chain: auditSince into one array, verifyRecordChain", args: ['store-cp', dbPath, String(PAGE)], expect: OWN_RECORDS },
    ];
    const readRows = reads.map(({ name, args, expect }) => {
      log(`store verify: ${args[0]}`);
      const result = runVerifyChild(args);
      if (!result.ok || result.records !== expect) throw new Error(`${name}: ${result.records} records, ${result.detail}`);
      return { name, result };
    });

    out.push(...runHeader('bench/audit/run.ts', [toolVersion('sha256sum', ['--version']), toolVersion('openssl', ['version'])], loadBefore));
    out.push('', ...printAppend(appendRows, SAMPLE_EVERY));
    out.push('', ...printVerify(chainMb, verify, passes));
    out.push('', ...printIngest(ingest, BATCH, dbMb, peerMb));
    out.push('', ...printOwnChain(own, ownPeer));
    out.push('', ...printReadVerify(readRows, PAGE));
    out.push('', `total wall time ${((performance.now() - started) / 1000).toFixed(0)} s`);
    process.stdout.write(`${out.join('\n')}\n`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((error: Error) => {
  process.stderr.write(`${error.stack ?? error.message}\n`);
  process.exitCode = 1;
});
