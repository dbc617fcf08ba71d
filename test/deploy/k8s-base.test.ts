import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml, parseAllDocuments } from 'yaml';
import { componentFile, componentText, kustomizationText, renderComponents } from '../../src/deploy/render.ts';
import { parseValues } from '../../src/deploy/values.ts';
import { K8S_BASE } from './manifests.ts';

// deploy/k8s is the defaults, rendered: regenerate it with `npx interlock deploy render --out deploy/k8s`.
const REGENERATE = 'run `npx interlock deploy render --out deploy/k8s` and commit the result';

test('deploy/k8s is exactly what the current renderer makes of the default values', () => {
  const components = renderComponents(parseValues({}, 'defaults'));
  const expected = new Map(components.map((c) => [componentFile(c, 'yaml'), componentText(c, 'yaml')]));
  expected.set('kustomization.yaml', kustomizationText(components, 'yaml'));
  assert.deepEqual(readdirSync(K8S_BASE).sort(), [...expected.keys()].sort(), `deploy/k8s has other files than the renderer makes: ${REGENERATE}`);
  for (const [file, text] of expected) assert.equal(readFileSync(join(K8S_BASE, file), 'utf8'), text, `deploy/k8s/${file} is out of date: ${REGENERATE}`);
});

test('the kustomization lists every manifest in deploy/k8s', () => {
  const kustomization = parseYaml(readFileSync(join(K8S_BASE, 'kustomization.yaml'), 'utf8')) as { resources: string[] };
  const manifests = readdirSync(K8S_BASE).filter((f) => f !== 'kustomization.yaml');
  assert.deepEqual([...kustomization.resources].sort(), manifests.sort());
});

const kubectl = spawnSync('kubectl', ['version', '--client'], { encoding: 'utf8' }).status === 0;

test('kustomize builds deploy/k8s into the rendered objects (kubectl kustomize, when kubectl is installed)', { skip: kubectl ? false : 'kubectl is not installed' }, () => {
  const result = spawnSync('kubectl', ['kustomize', K8S_BASE], { encoding: 'utf8' });
  assert.equal(result.status, 0, result.stderr);
  const built = parseAllDocuments(result.stdout).map((d) => d.toJS() as { kind: string; metadata: { name: string } });
  const rendered = renderComponents(parseValues({}, 'defaults')).flatMap((c) => c.objects.map((o) => `${o.kind}/${o.metadata?.name}`));
  assert.deepEqual(built.map((o) => `${o.kind}/${o.metadata.name}`).sort(), rendered.sort());
});
