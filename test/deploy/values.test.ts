import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { InterlockError } from '../../src/errors.ts';
import { loadValues, parseValues } from '../../src/deploy/values.ts';
import { tempDir } from '../helpers/pki.ts';
import { exampleValues } from './manifests.ts';

const GATEWAY = { cluster: 'east', address: 'gw.east.example:15443', controlPlaneUrl: 'https://cp.example:8443' };

function failsWith(code: string, field: string, message?: RegExp) {
  return (error: unknown) => {
    assert.ok(error instanceof InterlockError, String(error));
    assert.equal(error.code, code);
    assert.equal(error.field, field);
    if (message) assert.match(error.toLine(), message);
    return true;
  };
}

test('an empty values file gets every default: two control-plane replicas in interlock-system, no gateways', () => {
  const values = parseValues({});
  assert.equal(values.namespace, 'interlock-system');
  assert.equal(values.controlPlane.replicas, 2);
  assert.equal(values.controlPlane.port, 8443);
  assert.deepEqual(values.controlPlane.postgres.passwordSecret, { name: 'interlock-postgres', key: 'password' });
  assert.deepEqual(values.serviceAccountToken, { audience: 'interlock', expirationSeconds: 3600 });
  assert.deepEqual(values.gateways, []);
  assert.equal(Object.isFrozen(values.controlPlane), true);
});

test('a gateway gets its defaults: LoadBalancer on 15443, two replicas, the trust-bundle ConfigMap', () => {
  const [gateway] = parseValues({ gateways: [GATEWAY] }).gateways;
  assert.equal(gateway!.serviceType, 'LoadBalancer');
  assert.equal(gateway!.eastWestPort, 15443);
  assert.equal(gateway!.replicas, 2);
  assert.deepEqual(gateway!.trustBundle, { configMap: 'interlock-trust-bundle', key: 'bundle.pem' });
});

test('the example values file loads', () => {
  const values = exampleValues();
  assert.deepEqual(
    values.gateways.map((g) => g.cluster),
    ['east', 'west'],
  );
});

test('an unknown key is refused with a did-you-mean hint, also inside the list of gateways', () => {
  assert.throws(() => parseValues({ controlPlane: { replica: 3 } }), failsWith('IL_ERR_CONFIG_UNKNOWN_KEY', 'controlPlane.replica', /did you mean "replicas"/));
  assert.throws(() => parseValues({ gateways: [{ ...GATEWAY, eastWestPrt: 1 }] }), failsWith('IL_ERR_CONFIG_UNKNOWN_KEY', 'gateways.0.eastWestPrt', /did you mean "eastWestPort"/));
  assert.throws(
    () => parseValues({ gateways: [{ ...GATEWAY, services: [{ name: 'a', namespace: 'b', upstream: 'a.b.svc:80', clasification: 'internal' }] }] }),
    failsWith('IL_ERR_CONFIG_UNKNOWN_KEY', 'gateways.0.services.0.clasification', /did you mean "classification"/),
  );
});

test('replicas 0 is refused, naming the field', () => {
  assert.throws(() => parseValues({ controlPlane: { replicas: 0 } }), failsWith('IL_ERR_CONFIG_INVALID', 'controlPlane.replicas', />=1/));
  assert.throws(() => parseValues({ gateways: [{ ...GATEWAY, replicas: 0 }] }), failsWith('IL_ERR_CONFIG_INVALID', 'gateways.0.replicas'));
});

test('a cluster name that is not a DNS label is refused, naming the field', () => {
  assert.throws(() => parseValues({ gateways: [{ ...GATEWAY, cluster: 'East_1' }] }), failsWith('IL_ERR_CONFIG_INVALID', 'gateways.0.cluster', /DNS label/));
  assert.throws(() => parseValues({ gateways: [GATEWAY, { ...GATEWAY }] }), failsWith('IL_ERR_CONFIG_INVALID', 'gateways.1.cluster', /two gateways/));
});

test('values that would render a broken install are refused before rendering', () => {
  assert.throws(() => parseValues({ controlPlane: { postgres: { url: 'postgres://interlock:hunter2@db:5432/interlock' } } }), failsWith('IL_ERR_CONFIG_INVALID', 'controlPlane.postgres.url', /without a password/));
  assert.throws(() => parseValues({ gateways: [{ ...GATEWAY, nodePort: 31443 }] }), failsWith('IL_ERR_CONFIG_INVALID', 'gateways.0.nodePort', /NodePort/));
  assert.throws(() => parseValues({ gateways: [{ ...GATEWAY, outboundPort: 15443 }] }), failsWith('IL_ERR_CONFIG_INVALID', 'gateways.0.outboundPort', /already used/));
  assert.throws(() => parseValues({ gateways: [{ ...GATEWAY, controlPlaneUrl: 'http://cp.example:8443' }] }), failsWith('IL_ERR_CONFIG_INVALID', 'gateways.0.controlPlaneUrl'));
  assert.throws(() => parseValues({ gateways: [{ ...GATEWAY, resources: { limits: { memory: 'lots' } } }] }), failsWith('IL_ERR_CONFIG_INVALID', 'gateways.0.resources.limits.memory', /quantity/));
  // The control plane verifies attestation tokens for audience "interlock" only.
  assert.throws(() => parseValues({ serviceAccountToken: { audience: 'kubernetes' } }), failsWith('IL_ERR_CONFIG_INVALID', 'serviceAccountToken.audience'));
  assert.throws(() => parseValues({ serviceAccountToken: { expirationSeconds: 60 } }), failsWith('IL_ERR_CONFIG_INVALID', 'serviceAccountToken.expirationSeconds'));
});

test('a values file that cannot be read or parsed names --values', () => {
  const dir = tempDir();
  assert.throws(() => loadValues(join(dir, 'missing.yaml')), failsWith('IL_ERR_CONFIG_NOT_FOUND', '--values'));
  writeFileSync(join(dir, 'bad.yaml'), 'controlPlane: [\n');
  assert.throws(() => loadValues(join(dir, 'bad.yaml')), failsWith('IL_ERR_CONFIG_INVALID', '--values', /not valid YAML/));
});
