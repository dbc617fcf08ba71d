import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { Namespace } from 'kubernetes-models/v1/Namespace';
import { Service } from 'kubernetes-models/v1/Service';
import { ServiceAccount } from 'kubernetes-models/v1/ServiceAccount';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicy';
import { configFileText, serverConfigFor } from './config-files.ts';
import { CONTROL_PLANE, SERVER_PATHS, imageOf, labelsFor, selectorFor } from './layout.ts';
import { COMMON_ENV, CONTAINER_SECURITY_CONTEXT, POD_SECURITY_CONTEXT, TMP_MOUNT, TMP_VOLUME, configChecksum, containerResources, healthProbes, spreadOverNodes } from './pod-hardening.ts';
import type { Values } from './values.ts';

export type Manifest = Namespace | ServiceAccount | ConfigMap | Deployment | Service | PodDisruptionBudget | NetworkPolicy;

/**
 * The namespace every Interlock component runs in, in every cluster. It
 * enforces the "restricted" Pod Security Standard, which every pod rendered
 * here meets, so nothing weaker can be started beside them.
 */
export function namespaceManifests(values: Values): Manifest[] {
  return [
    new Namespace({
      metadata: {
        name: values.namespace,
        labels: {
          'app.kubernetes.io/part-of': 'interlock',
          'pod-security.kubernetes.io/enforce': 'restricted',
          'pod-security.kubernetes.io/enforce-version': 'latest',
        },
      },
    }),
  ];
}

/** The control plane: stateless replicas over one PostgreSQL store, serving the API over mTLS (TLS 1.3). */
export function controlPlaneManifests(values: Values): Manifest[] {
  const cp = values.controlPlane;
  const namespace = values.namespace;
  const labels = labelsFor(values, 'control-plane');
  const selector = selectorFor('control-plane');
  const configText = configFileText('server', serverConfigFor(values), 'controlPlane');
  const configMapName = `${CONTROL_PLANE}-config`;
  const ports = [{ name: 'https', containerPort: cp.port, protocol: 'TCP' as const }, ...(cp.metricsPort ? [{ name: 'metrics', containerPort: cp.metricsPort, protocol: 'TCP' as const }] : [])];

  const objects: Manifest[] = [
    // The control plane calls no Kubernetes API: its pods get no API token at all.
    new ServiceAccount({ metadata: { name: CONTROL_PLANE, namespace, labels }, automountServiceAccountToken: false }),
    new ConfigMap({ metadata: { name: configMapName, namespace, labels }, data: { 'server.yaml': configText } }),
    new Deployment({
      metadata: { name: CONTROL_PLANE, namespace, labels },
      spec: {
        replicas: cp.replicas,
        selector: { matchLabels: selector },
        strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } },
        template: {
          metadata: { labels, annotations: configChecksum(configText) },
          spec: {
            serviceAccountName: CONTROL_PLANE,
            automountServiceAccountToken: false,
            securityContext: POD_SECURITY_CONTEXT,
            affinity: spreadOverNodes(selector),
            ...(values.imagePullSecrets.length ? { imagePullSecrets: values.imagePullSecrets.map((name) => ({ name })) } : {}),
            containers: [
              {
                name: 'server',
                image: imageOf(values),
                imagePullPolicy: values.image.pullPolicy,
                args: ['server', '--config', SERVER_PATHS.configFile, ...(cp.bootstrapAdmin ? ['--bootstrap-admin-token-file', SERVER_PATHS.bootstrapTokenFile] : [])],
                ports,
                env: [
                  ...COMMON_ENV,
                  // server/config.ts puts it into the postgres:// URL; it is never in a file.
                  { name: 'INTERLOCK_STORE_PASSWORD', valueFrom: { secretKeyRef: { name: cp.postgres.passwordSecret.name, key: cp.postgres.passwordSecret.key } } },
                ],
                resources: containerResources(cp.resources),
                securityContext: CONTAINER_SECURITY_CONTEXT,
                // The API is HTTPS only (TLS 1.3, client certificates optional); /healthz and /readyz are public routes (server/routes/public.ts).
                ...healthProbes('https', 'HTTPS'),
                volumeMounts: [
                  { name: 'config', mountPath: SERVER_PATHS.configDir, readOnly: true },
                  { name: 'ca-key', mountPath: SERVER_PATHS.caSecretDir, readOnly: true },
                  TMP_MOUNT,
                  ...(cp.bootstrapAdmin ? [{ name: 'bootstrap', mountPath: SERVER_PATHS.bootstrapDir }] : []),
                ],
              },
            ],
            volumes: [
              { name: 'config', configMap: { name: configMapName } },
              { name: 'ca-key', secret: { secretName: cp.caKeySecret.name, items: [{ key: cp.caKeySecret.key, path: cp.caKeySecret.key }], defaultMode: 0o440 } },
              TMP_VOLUME,
              ...(cp.bootstrapAdmin ? [{ name: 'bootstrap', emptyDir: { medium: 'Memory', sizeLimit: '1Mi' } }] : []),
            ],
          },
        },
      },
    }),
    new Service({
      metadata: { name: CONTROL_PLANE, namespace, labels, ...(Object.keys(cp.serviceAnnotations).length ? { annotations: cp.serviceAnnotations } : {}) },
      spec: {
        type: cp.serviceType,
        selector,
        ports: [
          { name: 'https', port: cp.port, targetPort: 'https', protocol: 'TCP', appProtocol: 'https', ...(cp.nodePort ? { nodePort: cp.nodePort } : {}) },
          ...(cp.metricsPort ? [{ name: 'metrics', port: cp.metricsPort, targetPort: 'metrics', protocol: 'TCP' as const }] : []),
        ],
      },
    }),
  ];
  if (cp.replicas > 1) {
    // A node drain may take replicas down one at a time, never all of them.
    objects.push(new PodDisruptionBudget({ metadata: { name: CONTROL_PLANE, namespace, labels }, spec: { minAvailable: 1, selector: { matchLabels: selector } } }));
  }
  objects.push(
    new NetworkPolicy({
      metadata: { name: CONTROL_PLANE, namespace, labels },
      spec: {
        podSelector: { matchLabels: selector },
        policyTypes: ['Ingress'],
        // Gateways, workloads and operators come from anywhere (other clusters too), but only to the API port (and metrics, if enabled).
        ingress: [{ ports: ports.map((p) => ({ port: p.containerPort, protocol: 'TCP' })) }],
      },
    }),
  );
  return objects;
}
