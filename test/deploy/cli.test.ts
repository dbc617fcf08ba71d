import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml, parseAllDocuments } from 'yaml';
import { runCli } from '../helpers/cli.ts';
import { tempDir } from '../helpers/pki.ts';
import { EXAMPLE_VALUES } from './manifests.ts';

test('deploy render --out writes one multi-document file per component and a kustomization, and says what it wrote', () => {
  const out = tempDir();
  const result = runCli(['deploy', 'render', '--values', EXAMPLE_VALUES, '--out', out]);
  assert.equal(result.status, 0, result.stderr);
  assert.deepEqual(readdirSync(out).sort(), ['control-plane.yaml', 'gateway-east.yaml', 'gateway-west.yaml', 'kustomization.yaml', 'namespace.yaml']);
  assert.match(result.stdout, new RegExp(`wrote ${join(out, 'gateway-west.yaml')}: 7 objects \\(ServiceAccount, ConfigMap, Deployment, Service, Service, PodDisruptionBudget, NetworkPolicy\\)`));
  const west = parseAllDocuments(readFileSync(join(out, 'gateway-west.yaml'), 'utf8')).map((d) => d.toJS() as { kind: string; metadata: { labels: Record<string, string> } });
  assert.equal(west.length, 7);
  assert.ok(west.every((o) => o.metadata.labels['interlock.dev/cluster'] === 'west'));
  const kustomization = parseYaml(readFileSync(join(out, 'kustomization.yaml'), 'utf8')) as { kind: string; resources: string[] };
  assert.equal(kustomization.kind, 'Kustomization');
  assert.deepEqual(kustomization.resources, ['namespace.yaml', 'control-plane.yaml']);
});

test('deploy render without --out prints every manifest on stdout (for kubectl apply -f -) and the summary on stderr', () => {
  const result = runCli(['deploy', 'render', '--values', EXAMPLE_VALUES]);
  assert.equal(result.status, 0, result.stderr);
  const kinds = parseAllDocuments(result.stdout).map((d) => (d.toJS() as { kind: string }).kind);
  assert.equal(kinds.length, 1 + 6 + 7 + 7);
  assert.equal(kinds[0], 'Namespace');
  assert.match(result.stderr, /rendered namespace \(1 object\), control-plane \(6 objects\), gateway-east \(7 objects\), gateway-west \(7 objects\)/);
});

test('deploy render --format json writes v1 Lists', () => {
  const out = tempDir();
  const result = runCli(['deploy', 'render', '--values', EXAMPLE_VALUES, '--out', out, '--format', 'json']);
  assert.equal(result.status, 0, result.stderr);
  const list = JSON.parse(readFileSync(join(out, 'control-plane.json'), 'utf8')) as { apiVersion: string; kind: string; items: { kind: string }[] };
  assert.equal(list.kind, 'List');
  assert.equal(list.items[2]!.kind, 'Deployment');
  assert.deepEqual((parseYaml(readFileSync(join(out, 'kustomization.yaml'), 'utf8')) as { resources: string[] }).resources, ['namespace.json', 'control-plane.json']);
});

test('bad values exit 2 with one coded line naming the field, and nothing is written', () => {
  const dir = tempDir();
  const values = join(dir, 'values.yaml');
  writeFileSync(values, 'gateways:\n  - cluster: east\n    address: gw.example:15443\n    controlPlaneUrl: https://cp.example:8443\n    replicas: 0\n');
  const out = join(dir, 'out');
  const result = runCli(['deploy', 'render', '--values', values, '--out', out]);
  assert.equal(result.status, 2);
  assert.equal(result.stderr, `interlock: error IL_ERR_CONFIG_INVALID: ${values}: gateways.0.replicas: Too small: expected number to be >=1 [gateways.0.replicas]\n`);
  assert.deepEqual(readdirSync(dir), ['values.yaml']);
  const typo = runCli(['deploy', 'render', '--values', EXAMPLE_VALUES, '--format', 'xml']);
  assert.equal(typo.status, 2);
  assert.match(typo.stderr, /^interlock: error IL_ERR_USAGE: .*--format/);
});
