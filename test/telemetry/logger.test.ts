import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { createLogger } from '../../src/telemetry/logger.ts';

function capture() {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      done();
    },
  });
  return { lines, log: createLogger({ name: 'test', destination }) };
}

const SECRETS = {
  keyPem: '-----BEGIN PRIVATE KEY-----SECRET1',
  token: 'iladm_SECRET2',
  passphrase: 'SECRET3',
  csr: '-----BEGIN CERTIFICATE REQUEST-----SECRET4',
  authorization: 'Bearer SECRET5',
  sealedKey: '{"v":1,"ct":"SECRET6"}',
};

test('secrets are never written, at the top level or nested, and the rest of the line is kept', async () => {
  const { lines, log } = capture();
  log.info({ event: 'x', ...SECRETS, serial: 'ab12' }, 'top level');
  log.info({ event: 'y', svid: { keyPem: SECRETS.keyPem, certPem: 'PUBLIC' }, admin: { token: SECRETS.token } }, 'one level down');
  log.info({ event: 'z', request: { body: { csr: SECRETS.csr, token: SECRETS.token } } }, 'two levels down');
  log.info({ event: 'w', req: { headers: { authorization: SECRETS.authorization, 'interlock-identity': 'eyJSECRET7', host: 'billing.west.interlock' } } }, 'headers');
  await new Promise((r) => setImmediate(r));
  const text = lines.join('\n');
  for (const marker of ['SECRET1', 'SECRET2', 'SECRET3', 'SECRET4', 'SECRET5', 'SECRET6', 'SECRET7']) assert.ok(!text.includes(marker), `${marker} leaked: ${text}`);
  const parsed = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.equal(parsed[0]!.serial, 'ab12');
  assert.equal(parsed[0]!.token, '[redacted]');
  assert.deepEqual(parsed[1]!.svid, { keyPem: '[redacted]', certPem: 'PUBLIC' });
  assert.equal((parsed[3]!.req as { headers: Record<string, string> }).headers.host, 'billing.west.interlock');
  // One schema: every line has level, time (ISO 8601), component, event and msg.
  for (const line of parsed) {
    assert.equal(typeof line.level, 'number');
    assert.match(String(line.time), /^\d{4}-\d{2}-\d{2}T/);
    assert.equal(line.component, 'test');
    assert.ok(line.event && line.msg);
  }
});
