import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parse as parseYaml, parseAllDocuments } from 'yaml';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { InterlockError } from '../../src/errors.ts';
import { componentText, renderComponents, validateManifest } from '../../src/deploy/render.ts';
import { parseValues } from '../../src/deploy/values.ts';
import { allContainers, component, objectOf, plainObjects, podSpec, renderExample } from './manifests.ts';

const components = renderExample();

test('the example renders the namespace, the control plane and one gateway per cluster, every object valid against the Kubernetes schemas', () => {
  assert.deepEqual(
    components.map((c) => c.name),
    ['namespace', 'control-plane', 'gateway-east', 'gateway-west'],
  );
  const kinds = (name: string) => component(components, name).objects.map((o) => o.kind);
  assert.deepEqual(kinds('control-plane'), ['ServiceAccount', 'ConfigMap', 'Deployment', 'Service', 'PodDisruptionBudget', 'NetworkPolicy']);
  assert.deepEqual(kinds('gateway-west'), ['ServiceAccount', 'ConfigMap', 'Deployment', 'Service', 'Service', 'PodDisruptionBudget', 'NetworkPolicy']);
  for (const c of components) {
    for (const object of c.objects) {
      assert.doesNotThrow(() => object.validate(), `${c.name}: ${object.kind}/${object.metadata?.name}`);
      if (object.kind !== 'Namespace') assert.equal(object.metadata?.namespace, 'interlock-system', `${object.kind} namespace`);
    }
  }
});

test('every container, init containers included, is hardened: non-root, read-only root, no escalation, no capabilities, RuntimeDefault seccomp, resources', () => {
  const deployments = components.flatMap((c) => plainObjects(c).filter((o) => o.kind === 'Deployment'));
  assert.equal(deployments.length, 3);
  for (const deployment of deployments) {
    const spec = podSpec(deployment);
    assert.equal(spec.securityContext?.runAsNonRoot, true);
    assert.equal(spec.securityContext?.seccompProfile?.type, 'RuntimeDefault');
    assert.equal(spec.automountServiceAccountToken, false, 'no Kubernetes API token in the pod');
    assert.ok(spec.volumes?.some((v) => v.name === 'tmp' && v.emptyDir), 'an emptyDir for /tmp');
    for (const container of allContainers(deployment)) {
      const where = `${deployment.metadata.name}/${container.name}`;
      assert.equal(container.securityContext?.runAsNonRoot, true, where);
      assert.equal(container.securityContext?.readOnlyRootFilesystem, true, where);
      assert.equal(container.securityContext?.allowPrivilegeEscalation, false, where);
      assert.deepEqual(container.securityContext?.capabilities?.drop, ['ALL'], where);
      assert.equal(container.securityContext?.seccompProfile?.type, 'RuntimeDefault', where);
      assert.ok(container.resources?.requests?.cpu && container.resources?.requests?.memory && container.resources?.limits?.memory, `${where} resources`);
    }
  }
});

test('the control plane probes /healthz and /readyz over HTTPS (its only listener), reads the database password from a Secret and the CA secret from a file', () => {
  const deployment = objectOf(components, 'control-plane', 'Deployment');
  const [server] = podSpec(deployment).containers;
  assert.equal(deployment.spec.replicas, 2);
  assert.deepEqual(server!.livenessProbe?.httpGet, { path: '/healthz', port: 'https', scheme: 'HTTPS' });
  assert.deepEqual(server!.readinessProbe?.httpGet, { path: '/readyz', port: 'https', scheme: 'HTTPS' });
  assert.equal(server!.startupProbe?.httpGet?.path, '/healthz');
  assert.deepEqual(server!.env?.find((e) => e.name === 'INTERLOCK_STORE_PASSWORD')?.valueFrom, { secretKeyRef: { name: 'interlock-postgres', key: 'password' } });
  assert.equal(podSpec(deployment).volumes?.find((v) => v.name === 'ca-key')?.secret?.secretName, 'interlock-ca-key');
  const service = objectOf(components, 'control-plane', 'Service');
  assert.equal(service.spec.type, 'LoadBalancer');
  assert.equal(service.metadata.annotations['service.beta.kubernetes.io/aws-load-balancer-type'], 'nlb');
});

test('the gateway probes its admin /healthz and /readyz over HTTP and attests with a projected token for audience interlock', () => {
  const deployment = objectOf(components, 'gateway-west', 'Deployment');
  const gateway = podSpec(deployment).containers.find((c) => c.name === 'gateway')!;
  assert.deepEqual(gateway.livenessProbe?.httpGet, { path: '/healthz', port: 'admin', scheme: 'HTTP' });
  assert.deepEqual(gateway.readinessProbe?.httpGet, { path: '/readyz', port: 'admin', scheme: 'HTTP' });
  assert.equal(gateway.ports?.find((p) => p.name === 'admin')?.containerPort, 15021);
  const token = podSpec(deployment).volumes?.find((v) => v.name === 'attestation-token');
  assert.deepEqual(token?.projected?.sources, [{ serviceAccountToken: { audience: 'interlock', expirationSeconds: 3600, path: 'token' } }]);
  assert.equal(podSpec(deployment).serviceAccountName, 'interlock-gateway');
});

test("each gateway's east-west Service has the values' type and port, local workloads get a ClusterIP outbound Service", () => {
  const west = objectOf(components, 'gateway-west', 'Service', 'interlock-gateway');
  assert.equal(west.spec.type, 'NodePort');
  assert.deepEqual(west.spec.ports, [{ name: 'east-west', port: 15443, targetPort: 'east-west', protocol: 'TCP', nodePort: 31443 }]);
  assert.equal(objectOf(components, 'gateway-east', 'Service', 'interlock-gateway').spec.type, 'LoadBalancer');
  const outbound = objectOf(components, 'gateway-east', 'Service', 'interlock-gateway-outbound');
  assert.equal(outbound.spec.type, 'ClusterIP');
  assert.equal(outbound.spec.ports[0].port, 15001);
});

test('NetworkPolicies admit only the API port to the control plane, and only east-west and outbound (not admin) to a gateway', () => {
  const cp = objectOf(components, 'control-plane', 'NetworkPolicy');
  assert.deepEqual(cp.spec.policyTypes, ['Ingress']);
  assert.deepEqual(cp.spec.ingress, [{ ports: [{ port: 8443, protocol: 'TCP' }] }]);
  const gw = objectOf(components, 'gateway-east', 'NetworkPolicy');
  const ports = gw.spec.ingress.flatMap((rule: { ports: { port: number }[] }) => rule.ports.map((p) => p.port));
  assert.deepEqual(ports, [15443, 15001]);
  assert.deepEqual(gw.spec.podSelector.matchLabels, objectOf(components, 'gateway-east', 'Deployment').spec.selector.matchLabels);
});

test('a PodDisruptionBudget with minAvailable 1 exists only when there is more than one replica', () => {
  assert.equal(objectOf(components, 'control-plane', 'PodDisruptionBudget').spec.minAvailable, 1);
  const single = renderComponents(parseValues({ controlPlane: { replicas: 1 } }));
  assert.equal(
    component(single, 'control-plane').objects.some((o) => o.kind === 'PodDisruptionBudget'),
    false,
  );
});

test('an object that fails the Kubernetes schema is a coded error naming the object and the path', () => {
  const broken = new Deployment({
    metadata: { name: 'broken' },
    spec: { selector: {}, template: { spec: { containers: [{ name: 'c', image: 'i', ports: [{ containerPort: 'https' as unknown as number }] }] } } },
  });
  assert.throws(
    () => validateManifest(broken),
    (error: unknown) => {
      assert.ok(error instanceof InterlockError);
      assert.equal(error.code, 'IL_ERR_DEPLOY_MANIFEST_INVALID');
      assert.equal(error.field, 'Deployment/broken: spec.template.spec.containers.0.ports.0.containerPort');
      assert.match(error.message, /must be integer/);
      return true;
    },
  );
});

test('a component renders as multi-document YAML or as a JSON List holding the same objects', () => {
  const gateway = component(components, 'gateway-east');
  const documents = parseAllDocuments(componentText(gateway, 'yaml')).map((d) => d.toJS() as unknown);
  assert.deepEqual(documents, plainObjects(gateway));
  const list = parseYaml(componentText(gateway, 'json')) as { kind: string; items: unknown[] };
  assert.equal(list.kind, 'List');
  assert.deepEqual(list.items, plainObjects(gateway));
});
