/**
 * The issuance peer: a CLI CA. `openssl x509 -req` signs each CSR with an
 * EC P-256 CA in its own process, as a script around the openssl CLI
 * would. It writes the certificate to a file and stores nothing else: no
 * inventory row, no audit record, no revocation state, no attestation. The
 * CA and the CSRs (the same kind of CSR the workload SDK sends) are made
 * before the clock starts.
 */
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createCsr } from '../../src/pki/csr.ts';
import { generateKeyPair } from '../../src/pki/x509.ts';
import { toRow, type RateRow } from './issuance.ts';
import { pool } from './table.ts';

export const OPENSSL = '/usr/bin/openssl';

function run(args: readonly string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(OPENSSL, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`openssl ${args[0]} exited ${code}: ${stderr.trim()}`))));
  });
}

function runSync(args: readonly string[]): string {
  const result = spawnSync(OPENSSL, args, { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`openssl ${args.join(' ')}: ${result.stderr}`);
  return result.stdout;
}

export function opensslVersion(): string {
  return runSync(['version']).trim();
}

/** Rows: spawn cost alone (`openssl version`), then signing at each concurrency. */
export async function opensslIssuance(dir: string, count: number, concurrencies: readonly number[], spiffeId: string): Promise<RateRow[]> {
  mkdirSync(dir, { recursive: true });
  const caKey = join(dir, 'ca.key');
  const caCert = join(dir, 'ca.pem');
  runSync(['req', '-new', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', caKey, '-out', caCert, '-subj', '/O=Peer/CN=Peer CLI CA', '-days', '2', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
  const ext = join(dir, 'svid.ext');
  writeFileSync(ext, `[svid]\nbasicConstraints = critical, CA:FALSE\nkeyUsage = critical, digitalSignature\nextendedKeyUsage = serverAuth, clientAuth\nsubjectAltName = critical, URI:${spiffeId}\n`);
  const csrs: string[] = [];
  for (let i = 0; i < count; i++) {
    const file = join(dir, `req-${i}.csr`);
    writeFileSync(file, await createCsr(await generateKeyPair()));
    csrs.push(file);
  }

  const rows: RateRow[] = [];
  const spawnOnly = await pool(csrs, 1, () => run(['version']));
  rows.push(toRow('openssl version (process start only)', 1, { ...spawnOnly, prepMs: 0 }));
  for (const concurrency of concurrencies) {
    const out = join(dir, `c${concurrency}`);
    mkdirSync(out, { recursive: true });
    const jobs = csrs.map((csr, i) => ({ csr, cert: join(out, `cert-${i}.pem`) }));
    const signed = await pool(jobs, concurrency, (job) =>
      run(['x509', '-req', '-in', job.csr, '-CA', caCert, '-CAkey', caKey, '-set_serial', `0x${randomBytes(16).toString('hex')}`, '-days', '1', '-sha256', '-extfile', ext, '-extensions', 'svid', '-out', job.cert]),
    );
    if (signed.errors.length > 0) throw new Error(`openssl signing failed: ${signed.errors[0]}`);
    // The certificates are real: each verifies against the CA and names the SPIFFE ID.
    const last = (jobs[jobs.length - 1] as { cert: string }).cert;
    if (!runSync(['verify', '-CAfile', caCert, last]).includes(': OK')) throw new Error('openssl-signed certificate does not verify');
    if (!readFileSync(last, 'utf8').includes('BEGIN CERTIFICATE') || !runSync(['x509', '-in', last, '-noout', '-ext', 'subjectAltName']).includes(spiffeId)) throw new Error('openssl certificate lacks the SPIFFE ID');
    rows.push(toRow('openssl x509 -req, 1 process/cert', concurrency, { ...signed, prepMs: 0 }));
  }
  return rows;
}
