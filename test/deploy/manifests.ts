import { fileURLToPath } from 'node:url';
import type { IContainer } from 'kubernetes-models/v1/Container';
import type { IPodSpec } from 'kubernetes-models/v1/PodSpec';
import { renderComponents, type Component } from '../../src/deploy/render.ts';
import { loadValues, type Values } from '../../src/deploy/values.ts';

/** Shared by the deploy tests: the example values, rendered, and ways to find things in them. */
export const EXAMPLE_VALUES = fileURLToPath(new URL('../../deploy/values.example.yaml', import.meta.url));
export const K8S_BASE = fileURLToPath(new URL('../../deploy/k8s', import.meta.url));

export function exampleValues(): Values {
  return loadValues(EXAMPLE_VALUES);
}

export function renderExample(): Component[] {
  return renderComponents(exampleValues());
}

export type Plain = Record<string, any>;

export function plainObjects(component: Component): Plain[] {
  return component.objects.map((o) => JSON.parse(JSON.stringify(o)) as Plain);
}

export function component(components: readonly Component[], name: string): Component {
  const found = components.find((c) => c.name === name);
  if (!found) throw new Error(`no component ${name}; have ${components.map((c) => c.name).join(', ')}`);
  return found;
}

export function objectOf(components: readonly Component[], componentName: string, kind: string, name?: string): Plain {
  const found = plainObjects(component(components, componentName)).filter((o) => o.kind === kind && (name === undefined || o.metadata.name === name));
  if (found.length !== 1) throw new Error(`${componentName} has ${found.length} ${kind}${name ? ` named ${name}` : ''}`);
  return found[0]!;
}

export function podSpec(deployment: Plain): IPodSpec {
  return deployment.spec.template.spec as IPodSpec;
}

export function allContainers(deployment: Plain): IContainer[] {
  const spec = podSpec(deployment);
  return [...(spec.initContainers ?? []), ...spec.containers];
}
