import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import type { IContainer } from 'kubernetes-models/v1/Container';
import type { IPodSpec } from 'kubernetes-models/v1/PodSpec';
import { loadGatewayConfig } from '../../src/gateway/config.ts';
import { loadServerConfig, storeSpecWithPassword } from '../../src/server/config.ts';
import { GATEWAY_PATHS, SERVER_PATHS } from '../../src/deploy/layout.ts';
import { tempDir } from '../helpers/pki.ts';
import { InterlockError } from '../../src/errors.ts';
import { configFileText, gatewayConfigFor } from '../../src/deploy/config-files.ts';
import { exampleValues, objectOf, podSpec, renderExample } from './manifests.ts';

const components = renderExample();

function configMapFile(component: string, name: string, key: string): string {
  const path = join(tempDir(), key);
  writeFileSync(path, objectOf(components, component, 'ConfigMap', name).data[key]);
  return path;
}

/** Runs the gateway pod's init container script, with its absolute paths moved into a temp folder. */
function stampAuditStream(component: string, podName: string): string {
  const deployment = objectOf(components, component, 'Deployment');
  const init = podSpec(deployment).initContainers!.find((c) => c.name === 'audit-stream')!;
  const dir = tempDir();
  const template = join(dir, 'template.yaml');
  const out = join(dir, 'gateway.yaml');
  writeFileSync(template, objectOf(components, component, 'ConfigMap', 'interlock-gateway-config').data['gateway.yaml']);
  const script = init.command![2]!.replaceAll(GATEWAY_PATHS.templateFile, template).replaceAll(GATEWAY_PATHS.runFile, out);
  const result = spawnSync(init.command![0]!, [init.command![1]!, script], { env: { PATH: process.env.PATH, POD_NAME: podName }, encoding: 'utf8' });
  assert.equal(result.status, 0, result.stderr);
  return out;
}

test("the rendered server config loads with interlock server's own loader, and the password env var is the one it reads", () => {
  const config = loadServerConfig(configMapFile('control-plane', 'interlock-control-plane-config', 'server.yaml'));
  assert.equal(config.listen, '0.0.0.0:8443');
  assert.equal(config.store, 'postgres://interlock@postgres.databases.svc:5432/interlock?sslmode=require');
  assert.equal(config.organization, 'Acme');
  assert.equal(config.secret.passphraseFile, `${SERVER_PATHS.caSecretDir}/passphrase`);
  // Gateways dial the control plane by these names; its certificate must carry them.
  assert.ok(config.tls.dnsNames.includes('interlock.acme.example'));
  assert.ok(config.tls.dnsNames.includes('interlock-control-plane.interlock-system.svc'));
  const [server] = podSpec(objectOf(components, 'control-plane', 'Deployment')).containers;
  const passwordEnv = server!.env!.find((e) => e.valueFrom?.secretKeyRef)!.name;
  assert.match(storeSpecWithPassword(config.store, { [passwordEnv]: 's3cret' }), /^postgres:\/\/interlock:s3cret@postgres\.databases\.svc/);
});

test("the rendered gateway config loads with interlock gateway's own loader: k8s attestation, peers, services", () => {
  const config = loadGatewayConfig(configMapFile('gateway-west', 'interlock-gateway-config', 'gateway.yaml'));
  assert.equal(config.cluster, 'west');
  assert.equal(config.trustDomain, 'west.acme.internal');
  assert.deepEqual(config.identity, { server: 'https://interlock.acme.example:8443', bundle: GATEWAY_PATHS.trustFile, k8sTokenFile: GATEWAY_PATHS.tokenFile });
  assert.deepEqual(config.peers, { east: { address: 'gateway.east.acme.example:15443', trustDomain: 'east.acme.internal' } });
  assert.deepEqual(config.services.billing, {
    upstream: 'https://billing.billing.svc:8443',
    id: 'spiffe://west.acme.internal/ns/billing/sa/billing',
    classification: 'confidential',
    critical: ['POST /invoices'],
  });
  assert.ok('controlPlane' in config.policy);
  assert.equal(config.admin?.listen, '0.0.0.0:15021');
});

test('the init container gives each pod its own audit stream <cluster>/<pod>, and the result still loads', () => {
  const config = loadGatewayConfig(stampAuditStream('gateway-east', 'interlock-gateway-7c9f8d6b5-x2x9q'));
  assert.equal(config.audit.stream, 'east/interlock-gateway-7c9f8d6b5-x2x9q');
  assert.equal(config.audit.file, GATEWAY_PATHS.auditFile);
  assert.equal(config.cluster, 'east');
});

/** Where a file at `path` comes from in the container: the mount that holds it, and that volume's source of the file. */
function sourceOf(spec: IPodSpec, container: IContainer, path: string): { volume: string; provides: boolean; writable: boolean } {
  const mount = container.volumeMounts?.find((m) => path.startsWith(`${m.mountPath}/`));
  assert.ok(mount, `${container.name}: nothing is mounted at ${dirname(path)}`);
  const volume = spec.volumes!.find((v) => v.name === mount.name)!;
  const file = relative(mount.mountPath, path);
  const provides =
    Boolean(volume.emptyDir) ||
    (volume.configMap ? (volume.configMap.items ? volume.configMap.items.some((i) => i.path === file) : true) : false) ||
    (volume.secret ? (volume.secret.items ?? []).some((i) => i.path === file) : false) ||
    (volume.projected?.sources ?? []).some((s) => s.serviceAccountToken?.path === file);
  return { volume: volume.name, provides, writable: Boolean(volume.emptyDir) && mount.readOnly !== true };
}

test('every file a rendered config or command line names is mounted where it says, writable where it must be', () => {
  const cpSpec = podSpec(objectOf(components, 'control-plane', 'Deployment'));
  const server = cpSpec.containers[0]!;
  const serverConfig = loadServerConfig(configMapFile('control-plane', 'interlock-control-plane-config', 'server.yaml'));
  assert.equal(server.args![server.args!.indexOf('--config') + 1], SERVER_PATHS.configFile);
  assert.deepEqual(sourceOf(cpSpec, server, SERVER_PATHS.configFile), { volume: 'config', provides: true, writable: false });
  assert.deepEqual(sourceOf(cpSpec, server, serverConfig.secret.passphraseFile!), { volume: 'ca-key', provides: true, writable: false });
  assert.equal(sourceOf(cpSpec, server, server.args![server.args!.indexOf('--bootstrap-admin-token-file') + 1]!).writable, true);

  const gwSpec = podSpec(objectOf(components, 'gateway-east', 'Deployment'));
  const gateway = gwSpec.containers.find((c) => c.name === 'gateway')!;
  const init = gwSpec.initContainers!.find((c) => c.name === 'audit-stream')!;
  const gatewayConfig = loadGatewayConfig(configMapFile('gateway-east', 'interlock-gateway-config', 'gateway.yaml'));
  const identity = gatewayConfig.identity as { bundle: string; k8sTokenFile: string };
  assert.equal(gateway.args![gateway.args!.indexOf('--config') + 1], GATEWAY_PATHS.runFile);
  assert.deepEqual(sourceOf(gwSpec, init, GATEWAY_PATHS.templateFile), { volume: 'config', provides: true, writable: false });
  assert.deepEqual(sourceOf(gwSpec, init, GATEWAY_PATHS.runFile), { volume: 'run', provides: true, writable: true });
  assert.equal(sourceOf(gwSpec, gateway, GATEWAY_PATHS.runFile).volume, 'run');
  assert.deepEqual(sourceOf(gwSpec, gateway, identity.bundle), { volume: 'trust-bundle', provides: true, writable: false });
  assert.deepEqual(sourceOf(gwSpec, gateway, identity.k8sTokenFile), { volume: 'attestation-token', provides: true, writable: false });
  assert.deepEqual(sourceOf(gwSpec, gateway, gatewayConfig.audit.file), { volume: 'audit', provides: true, writable: true });
  // Node and tsx (its transform cache) write under /tmp; the root file system is read-only.
  assert.deepEqual(sourceOf(gwSpec, gateway, '/tmp/tsx-10001/cache'), { volume: 'tmp', provides: true, writable: true });
  assert.deepEqual(sourceOf(cpSpec, server, '/tmp/tsx-10001/cache'), { volume: 'tmp', provides: true, writable: true });
});

test('listeners in the rendered configs are the ports the Deployments declare', () => {
  const gateway = podSpec(objectOf(components, 'gateway-west', 'Deployment')).containers.find((c) => c.name === 'gateway')!;
  const config = loadGatewayConfig(configMapFile('gateway-west', 'interlock-gateway-config', 'gateway.yaml'));
  const port = (listen: string) => Number(listen.slice(listen.lastIndexOf(':') + 1));
  const declared = Object.fromEntries(gateway.ports!.map((p) => [p.name, p.containerPort]));
  assert.deepEqual(declared, { 'east-west': port(config.inbound.listen), outbound: port(config.outbound.listen), admin: port(config.admin!.listen) });
  const server = podSpec(objectOf(components, 'control-plane', 'Deployment')).containers[0]!;
  const serverConfig = loadServerConfig(configMapFile('control-plane', 'interlock-control-plane-config', 'server.yaml'));
  assert.equal(server.ports![0]!.containerPort, port(serverConfig.listen));
});

test('a config the program would refuse stops the render, naming the values entry and the config field', () => {
  const values = exampleValues();
  const config = { ...gatewayConfigFor(values, values.gateways[1]!), peers: { east: { address: 'gateway.east.acme.example', trustDomain: 'east.acme.internal' } } };
  assert.throws(
    () => configFileText('gateway', config, 'gateways.1'),
    (error: unknown) => {
      assert.ok(error instanceof InterlockError);
      assert.equal(error.code, 'IL_ERR_CONFIG_INVALID');
      assert.equal(error.field, 'gateways.1 → peers.east.address');
      assert.match(error.message, /interlock gateway would refuse/);
      return true;
    },
  );
});
