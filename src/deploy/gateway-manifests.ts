import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { Service } from 'kubernetes-models/v1/Service';
import { ServiceAccount } from 'kubernetes-models/v1/ServiceAccount';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicy';
import { configFileText, gatewayConfigFor } from './config-files.ts';
import type { Manifest } from './control-plane-manifests.ts';
import { GATEWAY, GATEWAY_OUTBOUND, GATEWAY_PATHS, imageOf, labelsFor, selectorFor } from './layout.ts';
import { COMMON_ENV, CONTAINER_SECURITY_CONTEXT, POD_SECURITY_CONTEXT, TMP_MOUNT, TMP_VOLUME, configChecksum, containerResources, healthProbes, spreadOverNodes } from './pod-hardening.ts';
import type { GatewayValues, Values } from './values.ts';

/**
 * Each pod ships its own audit chain. The chain file is the spool the
 * shipper resumes from (gateway/audit-shipper.ts) and lives in the pod's
 * emptyDir: a replacement pod starts a fresh chain, which the control plane
 * would refuse under the old stream name as a contradicting history. So the
 * pod stamps its own name into the stream, `<cluster>/<pod>` (the form the
 * audit routes accept), before the gateway starts. A container restart keeps
 * the emptyDir, the name and so the chain.
 */
export function auditStreamScript(cluster: string): string {
  const from = `  stream: ${cluster}`;
  const to = `  stream: ${cluster}/\${POD_NAME}`;
  return [
    'set -eu',
    `sed "s|^${from}\\$|${to}|" ${GATEWAY_PATHS.templateFile} > ${GATEWAY_PATHS.runFile}`,
    // Fail the pod, not the audit shipping, if the template ever stops matching.
    `grep -qx "${to}" ${GATEWAY_PATHS.runFile}`,
  ].join('\n');
}

/** One cluster's gateway: its edge for traffic to and from the other clusters. Applied in that cluster. */
export function gatewayManifests(values: Values, gateway: GatewayValues): Manifest[] {
  const namespace = values.namespace;
  const labels = labelsFor(values, 'gateway', gateway.cluster);
  const selector = selectorFor('gateway', gateway.cluster);
  const configText = configFileText('gateway', gatewayConfigFor(values, gateway), `gateways.${values.gateways.indexOf(gateway)}`);
  const configMapName = `${GATEWAY}-config`;
  const security = { securityContext: CONTAINER_SECURITY_CONTEXT };

  const objects: Manifest[] = [
    // The gateway attests with a projected token of this account; it calls no Kubernetes API, so no API token is mounted.
    new ServiceAccount({ metadata: { name: GATEWAY, namespace, labels }, automountServiceAccountToken: false }),
    new ConfigMap({ metadata: { name: configMapName, namespace, labels }, data: { 'gateway.yaml': configText } }),
    new Deployment({
      metadata: { name: GATEWAY, namespace, labels },
      spec: {
        replicas: gateway.replicas,
        selector: { matchLabels: selector },
        strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } },
        template: {
          metadata: { labels, annotations: configChecksum(configText) },
          spec: {
            serviceAccountName: GATEWAY,
            automountServiceAccountToken: false,
            securityContext: POD_SECURITY_CONTEXT,
            affinity: spreadOverNodes(selector),
            ...(values.imagePullSecrets.length ? { imagePullSecrets: values.imagePullSecrets.map((name) => ({ name })) } : {}),
            initContainers: [
              {
                name: 'audit-stream',
                image: imageOf(values),
                imagePullPolicy: values.image.pullPolicy,
                command: ['/bin/sh', '-c', auditStreamScript(gateway.cluster)],
                env: [{ name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } }],
                resources: { requests: { cpu: '10m', memory: '16Mi' }, limits: { cpu: '100m', memory: '32Mi' } },
                ...security,
                volumeMounts: [
                  { name: 'config', mountPath: GATEWAY_PATHS.templateDir, readOnly: true },
                  { name: 'run', mountPath: GATEWAY_PATHS.runDir },
                ],
              },
            ],
            containers: [
              {
                name: 'gateway',
                image: imageOf(values),
                imagePullPolicy: values.image.pullPolicy,
                args: ['gateway', '--config', GATEWAY_PATHS.runFile],
                ports: [
                  { name: 'east-west', containerPort: gateway.eastWestPort, protocol: 'TCP' },
                  { name: 'outbound', containerPort: gateway.outboundPort, protocol: 'TCP' },
                  { name: 'admin', containerPort: gateway.adminPort, protocol: 'TCP' },
                ],
                env: COMMON_ENV,
                resources: containerResources(gateway.resources),
                ...security,
                // The admin port is plain HTTP (gateway/admin.ts); /readyz is 200 only while a fresh policy bundle is in force.
                ...healthProbes('admin', 'HTTP'),
                volumeMounts: [
                  { name: 'run', mountPath: GATEWAY_PATHS.runDir, readOnly: true },
                  { name: 'trust-bundle', mountPath: GATEWAY_PATHS.trustDir, readOnly: true },
                  { name: 'attestation-token', mountPath: GATEWAY_PATHS.tokenDir, readOnly: true },
                  { name: 'audit', mountPath: GATEWAY_PATHS.auditDir },
                  TMP_MOUNT,
                ],
              },
            ],
            volumes: [
              { name: 'config', configMap: { name: configMapName } },
              { name: 'run', emptyDir: { medium: 'Memory', sizeLimit: '1Mi' } },
              { name: 'trust-bundle', configMap: { name: gateway.trustBundle.configMap, items: [{ key: gateway.trustBundle.key, path: 'bundle.pem' }] } },
              {
                // A token for the control plane only (audience "interlock"), short-lived and refreshed by the kubelet
                // at 80% of its life (kubernetes.io/docs/concepts/storage/projected-volumes).
                name: 'attestation-token',
                projected: {
                  sources: [{ serviceAccountToken: { audience: values.serviceAccountToken.audience, expirationSeconds: values.serviceAccountToken.expirationSeconds, path: 'token' } }],
                },
              },
              { name: 'audit', emptyDir: { sizeLimit: '1Gi' } },
              TMP_VOLUME,
            ],
          },
        },
      },
    }),
    new Service({
      // East-west: the other clusters' gateways reach this one here (mTLS, TLS 1.3, peer SPIFFE ID checked).
      metadata: { name: GATEWAY, namespace, labels, ...(Object.keys(gateway.serviceAnnotations).length ? { annotations: gateway.serviceAnnotations } : {}) },
      spec: {
        type: gateway.serviceType,
        selector,
        ports: [{ name: 'east-west', port: gateway.eastWestPort, targetPort: 'east-west', protocol: 'TCP', ...(gateway.nodePort ? { nodePort: gateway.nodePort } : {}) }],
      },
    }),
    new Service({
      // Local workloads call other clusters through this one, inside the cluster only.
      metadata: { name: GATEWAY_OUTBOUND, namespace, labels },
      spec: { type: 'ClusterIP', selector, ports: [{ name: 'outbound', port: gateway.outboundPort, targetPort: 'outbound', protocol: 'TCP' }] },
    }),
  ];
  if (gateway.replicas > 1) {
    objects.push(new PodDisruptionBudget({ metadata: { name: GATEWAY, namespace, labels }, spec: { minAvailable: 1, selector: { matchLabels: selector } } }));
  }
  objects.push(
    new NetworkPolicy({
      metadata: { name: GATEWAY, namespace, labels },
      spec: {
        podSelector: { matchLabels: selector },
        policyTypes: ['Ingress'],
        ingress: [
          // Remote gateways, from outside the cluster.
          { ports: [{ port: gateway.eastWestPort, protocol: 'TCP' }] },
          // Workloads of this cluster, from any namespace. The admin port is in neither rule: only the kubelet probes it.
          { from: [{ namespaceSelector: {} }], ports: [{ port: gateway.outboundPort, protocol: 'TCP' }] },
        ],
      },
    }),
  );
  return objects;
}
