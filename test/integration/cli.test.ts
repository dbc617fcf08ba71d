import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCli, type CliResult } from '../helpers/cli.ts';
import { tempDir } from '../helpers/pki.ts';

const PASSPHRASE = { INTERLOCK_CA_PASSPHRASE: 'correct horse battery staple' };

/** Bad input: exactly one line on stderr, with the code, exit code 2, and no stack trace. */
function assertBadInput(result: CliResult, code: string): void {
  assert.equal(result.status, 2, `exit ${result.status}: ${result.stderr}`);
  const lines = result.stderr.trim().split('\n');
  assert.equal(lines.length, 1, result.stderr);
  assert.match(lines[0]!, new RegExp(`^interlock: error ${code}: `));
  assert.doesNotMatch(result.stderr, /\n\s+at /);
}

function initCa(dir: string): void {
  const init = runCli(['ca', 'init', '--dir', dir, '--org', 'Acme', '--domain', 'acme.internal'], { env: PASSPHRASE });
  assert.equal(init.status, 0, init.stderr);
  const add = runCli(['ca', 'add-cluster', 'east', '--dir', dir], { env: PASSPHRASE });
  assert.equal(add.status, 0, add.stderr);
  assert.match(add.stdout, /trust domain east\.acme\.internal/);
}

test('ca init, add-cluster and svid issue write an SVID that openssl verifies', () => {
  const dir = tempDir();
  initCa(dir);
  const out = join(dir, 'frontend');
  const issue = runCli(['svid', 'issue', '--dir', dir, '--cluster', 'east', '--id', 'spiffe://east.acme.internal/ns/shop/sa/frontend', '--out', out, '--ttl', '30m'], { env: PASSPHRASE });
  assert.equal(issue.status, 0, issue.stderr);
  const verify = spawnSync('openssl', ['verify', '-CAfile', join(out, 'bundle.pem'), '-untrusted', join(dir, 'ca/clusters/east/ca.pem'), join(out, 'svid.pem')], { encoding: 'utf8' });
  assert.equal(verify.status, 0, verify.stdout + verify.stderr);
  assert.equal(statSync(join(out, 'svid.key')).mode & 0o777, 0o600);
  const spiffeBundle = JSON.parse(readFileSync(join(dir, 'bundle.spiffe.json'), 'utf8'));
  assert.equal(spiffeBundle.keys[0].use, 'x509-svid');
  assert.equal(spiffeBundle.keys[0].kty, 'EC');
  assert.equal(spiffeBundle.keys[0].x5c.length, 1);
});

test('ca init without a secret says how to give one', () => {
  assertBadInput(runCli(['ca', 'init', '--dir', tempDir()]), 'IL_ERR_KEY_SECRET_MISSING');
});

test('a malformed SPIFFE ID is refused with IL_ERR_SPIFFE_ID_INVALID', () => {
  const dir = tempDir();
  initCa(dir);
  const result = runCli(['svid', 'issue', '--dir', dir, '--cluster', 'east', '--id', 'spiffe://East.acme.internal//x', '--out', join(dir, 'x')], { env: PASSPHRASE });
  assertBadInput(result, 'IL_ERR_SPIFFE_ID_INVALID');
  assert.match(result.stderr, /\[--id\]/);
});

test('a wrong passphrase is refused with IL_ERR_KEY_DECRYPT_FAILED and changes nothing', () => {
  const dir = tempDir();
  initCa(dir);
  const before = readFileSync(join(dir, 'audit/ca.audit.jsonl'), 'utf8');
  assertBadInput(runCli(['ca', 'add-cluster', 'west', '--dir', dir], { env: { INTERLOCK_CA_PASSPHRASE: 'this is not the passphrase' } }), 'IL_ERR_KEY_DECRYPT_FAILED');
  assert.equal(readFileSync(join(dir, 'audit/ca.audit.jsonl'), 'utf8'), before);
});

test('an unreadable passphrase file is refused with IL_ERR_KEY_UNREADABLE', () => {
  assertBadInput(runCli(['ca', 'init', '--dir', tempDir(), '--passphrase-file', '/nonexistent/pass']), 'IL_ERR_KEY_UNREADABLE');
});

test('a malformed policy file stops the gateway with IL_ERR_POLICY_INVALID and its position', () => {
  const dir = tempDir();
  initCa(dir);
  const out = join(dir, 'gw');
  runCli(['svid', 'issue', '--dir', dir, '--cluster', 'east', '--id', 'spiffe://east.acme.internal/ns/interlock-system/sa/interlock-gateway', '--out', out], { env: PASSPHRASE });
  writeFileSync(join(out, 'policy.cedar'), 'permit (principal, action, resource)\nwhen { context.method == };\n');
  writeFileSync(
    join(out, 'gateway.yaml'),
    [
      'cluster: east',
      'trustDomain: east.acme.internal',
      'identity: { cert: svid.pem, key: svid.key, bundle: bundle.pem }',
      'inbound: { listen: "127.0.0.1:0" }',
      'outbound: { listen: "127.0.0.1:0" }',
      'policy: { file: policy.cedar }',
      'audit: { file: east.audit.jsonl }',
    ].join('\n'),
  );
  const result = runCli(['gateway', '--config', join(out, 'gateway.yaml')]);
  assertBadInput(result, 'IL_ERR_POLICY_INVALID');
  assert.match(result.stderr, /policy\.cedar:2:\d+/);
});

test('a gateway whose key file cannot be read stops with IL_ERR_KEY_UNREADABLE', () => {
  const dir = tempDir();
  writeFileSync(join(dir, 'p.cedar'), 'permit (principal, action, resource);\n');
  writeFileSync(
    join(dir, 'gateway.yaml'),
    ['cluster: east', 'trustDomain: east.acme.internal', 'identity: { cert: svid.pem, key: missing.key, bundle: bundle.pem }', 'inbound: { listen: "127.0.0.1:0" }', 'outbound: { listen: "127.0.0.1:0" }', 'policy: { file: p.cedar }', 'audit: { file: a.audit.jsonl }'].join('\n'),
  );
  assertBadInput(runCli(['gateway', '--config', join(dir, 'gateway.yaml')]), 'IL_ERR_KEY_UNREADABLE');
});

test('usage errors are one line with IL_ERR_USAGE', () => {
  assertBadInput(runCli(['svid', 'issue', '--cluster', 'east']), 'IL_ERR_USAGE');
});

test('audit verify passes an intact chain and names the first altered record', () => {
  const dir = tempDir();
  initCa(dir);
  const ok = runCli(['audit', 'verify', dir]);
  assert.equal(ok.status, 0, ok.stderr);
  assert.match(ok.stdout, /ok .*ca\.audit\.jsonl: 2 records/);
  const path = join(dir, 'audit/ca.audit.jsonl');
  writeFileSync(path, readFileSync(path, 'utf8').replace('"cluster":"east"', '"cluster":"west"'));
  const broken = runCli(['audit', 'verify', path]);
  assert.equal(broken.status, 1);
  assert.match(broken.stderr, /IL_ERR_AUDIT_CHAIN_BROKEN: record 2 \(line 2\)/);
});

test('unknown commands and options are usage errors (exit 2)', () => {
  assertBadInput(runCli(['ca', 'frobnicate']), 'IL_ERR_USAGE');
  assertBadInput(runCli(['svid', 'issue', '--bogus']), 'IL_ERR_USAGE');
  assert.equal(runCli(['--help']).status, 0);
});

test('lab up --demo --json runs every demo call with the expected outcome and exits 0', () => {
  const dir = join(tempDir(), 'lab');
  const result = runCli(['lab', 'up', '--demo', '--json', '--dir', dir], { timeoutMs: 120_000 });
  assert.equal(result.status, 0, result.stderr + result.stdout.slice(0, 2000));
  const report = JSON.parse(result.stdout);
  assert.equal(report.ok, true);
  assert.equal(report.scenarios.length, 11);
  assert.deepEqual(
    report.scenarios.map((s: { outcome: string }) => s.outcome),
    ['allow', 'allow', 'deny', 'deny', 'deny', 'deny', 'handshake-refused', 'handshake-refused', 'deny', 'deny', 'handshake-refused'],
  );
  assert.deepEqual(
    report.scenarios.filter((s: { code?: string }) => s.code?.startsWith('IL_ERR_ATTESTATION')).map((s: { code: string }) => s.code),
    ['IL_ERR_ATTESTATION_TOKEN_USED', 'IL_ERR_ATTESTATION_K8S_INVALID'],
  );
  // The stolen-SVID act: refused, detected, revoked, the real workload re-attested, evidence verifies.
  assert.equal(report.detection.ok, true);
  assert.equal(report.detection.refusedAtWest, 'IL_ERR_AUTHN_NOT_LOCAL');
  assert.equal(report.detection.stolenRefusedAtHome, true);
  assert.equal(report.detection.evidence.verified, true);
  assert.equal(report.audit.length, 2);
  assert.ok(report.audit.every((a: { ok: boolean }) => a.ok));
  assert.equal(report.controlPlane.audit.ok, true);
  assert.equal(report.controlPlane.policyProposedBy, 'admin:alice');
  assert.equal(report.controlPlane.policyActivatedBy, 'admin:bob');
});
