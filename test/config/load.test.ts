import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { InterlockError } from '../../src/errors.ts';
import { loadGatewayConfig } from '../../src/gateway/config.ts';
import { tempDir } from '../helpers/pki.ts';

const VALID = `
cluster: east
trustDomain: east.acme.internal
identity: { cert: svid.pem, key: svid.key, bundle: bundle.pem }
inbound: { listen: "127.0.0.1:0" }
outbound: { listen: "127.0.0.1:0" }
peers:
  west: { address: "127.0.0.1:9443", trustDomain: west.acme.internal }
services:
  catalog: { upstream: "http://127.0.0.1:8080" }
policy: { file: policy.cedar }
audit: { file: audit/east.audit.jsonl }
`;

function write(text: string): string {
  const path = join(tempDir(), 'gateway.yaml');
  writeFileSync(path, text);
  return path;
}

function failsWith(code: string, field: string, message?: RegExp) {
  return (error: unknown) => {
    assert.ok(error instanceof InterlockError, String(error));
    assert.equal(error.code, code);
    assert.equal(error.field, field);
    if (message) assert.match(error.toLine(), message);
    return true;
  };
}

test('a valid config loads, with defaults filled, paths resolved against its folder, and frozen', () => {
  const path = write(VALID);
  const config = loadGatewayConfig(path);
  assert.equal('cert' in config.identity && config.identity.cert, join(path, '..', 'svid.pem'));
  assert.equal(config.limits.requestTimeoutMs, 30_000);
  assert.equal(Object.isFrozen(config), true);
  assert.equal(Object.isFrozen(config.peers.west), true);
  assert.throws(() => {
    (config as { cluster: string }).cluster = 'west';
  }, TypeError);
});

test('an unknown key is rejected with the closest known key as a hint', () => {
  assert.throws(() => loadGatewayConfig(write(VALID + 'polcy: { file: x }\n')), failsWith('IL_ERR_CONFIG_UNKNOWN_KEY', 'polcy', /did you mean "policy"/));
  assert.throws(
    () => loadGatewayConfig(write(VALID.replace('address: "127.0.0.1:9443"', 'adress: "127.0.0.1:9443"'))),
    failsWith('IL_ERR_CONFIG_UNKNOWN_KEY', 'peers.west.adress', /did you mean "address"/),
  );
});

test('a malformed value names its field', () => {
  assert.throws(() => loadGatewayConfig(write(VALID.replace('"127.0.0.1:0" }\nout', '"localhost" }\nout'))), failsWith('IL_ERR_CONFIG_INVALID', 'inbound.listen', /host:port/));
  assert.throws(() => loadGatewayConfig(write(VALID.replace('cluster: east', 'cluster: East_1'))), failsWith('IL_ERR_CONFIG_INVALID', 'cluster'));
  assert.throws(() => loadGatewayConfig(write(VALID.replace('http://127.0.0.1:8080', 'ftp://x'))), failsWith('IL_ERR_CONFIG_INVALID', 'services.catalog.upstream'));
});

test('a missing file and broken YAML get their own codes', () => {
  assert.throws(() => loadGatewayConfig('/nonexistent/gateway.yaml'), failsWith('IL_ERR_CONFIG_NOT_FOUND', '--config'));
  assert.throws(() => loadGatewayConfig(write('cluster: [east\n')), failsWith('IL_ERR_CONFIG_INVALID', '--config', /not valid YAML/));
});
