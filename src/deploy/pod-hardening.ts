import { createHash } from 'node:crypto';
import type { IContainer } from 'kubernetes-models/v1/Container';
import type { IPodSecurityContext } from 'kubernetes-models/v1/PodSecurityContext';
import type { IProbe } from 'kubernetes-models/v1/Probe';
import type { ISecurityContext } from 'kubernetes-models/v1/SecurityContext';
import type { IVolume } from 'kubernetes-models/v1/Volume';
import type { IVolumeMount } from 'kubernetes-models/v1/VolumeMount';
import { RUN_AS_USER } from './layout.ts';

/**
 * What every Interlock pod gets, whatever it runs: the Pod Security
 * Standards "restricted" profile (kubernetes.io/docs/concepts/security/pod-security-standards)
 * — non-root, no privilege escalation, every capability dropped, the
 * runtime's default seccomp profile — plus a read-only root file system
 * with an emptyDir for /tmp (tsx keeps its transform cache there).
 */
export const POD_SECURITY_CONTEXT: IPodSecurityContext = {
  runAsNonRoot: true,
  runAsUser: RUN_AS_USER,
  runAsGroup: RUN_AS_USER,
  // Mounted Secrets and projected tokens become readable through the group.
  fsGroup: RUN_AS_USER,
  seccompProfile: { type: 'RuntimeDefault' },
};

export const CONTAINER_SECURITY_CONTEXT: ISecurityContext = {
  runAsNonRoot: true,
  readOnlyRootFilesystem: true,
  allowPrivilegeEscalation: false,
  privileged: false,
  capabilities: { drop: ['ALL'] },
  seccompProfile: { type: 'RuntimeDefault' },
};

export const TMP_VOLUME: IVolume = { name: 'tmp', emptyDir: { sizeLimit: '64Mi' } };
export const TMP_MOUNT: IVolumeMount = { name: 'tmp', mountPath: '/tmp' };

/** Every container's env: Node in production mode, logs as JSON lines (telemetry/logger.ts). */
export const COMMON_ENV: NonNullable<IContainer['env']> = [{ name: 'NODE_ENV', value: 'production' }];

export interface Resources {
  requests: { cpu: string; memory: string };
  limits: { cpu: string; memory: string };
}

export function containerResources(resources: Resources): IContainer['resources'] {
  return { requests: { ...resources.requests }, limits: { ...resources.limits } };
}

/**
 * Liveness and readiness on /healthz and /readyz, and a startup probe that
 * gives the process time to open its store or attest before liveness
 * counts: a slow first start is not a crash loop.
 */
export function healthProbes(port: string, scheme: 'HTTP' | 'HTTPS'): Pick<IContainer, 'livenessProbe' | 'readinessProbe' | 'startupProbe'> {
  const probe = (path: string, extra: Partial<IProbe>): IProbe => ({ httpGet: { path, port, scheme }, timeoutSeconds: 3, ...extra });
  return {
    startupProbe: probe('/healthz', { periodSeconds: 5, failureThreshold: 36 }),
    livenessProbe: probe('/healthz', { periodSeconds: 10, failureThreshold: 3 }),
    readinessProbe: probe('/readyz', { periodSeconds: 5, failureThreshold: 2 }),
  };
}

/** A pod-template annotation that changes with the config, so `kubectl apply` of a new config rolls the pods. */
export function configChecksum(text: string): Record<string, string> {
  return { 'interlock.dev/config-sha256': createHash('sha256').update(text).digest('hex') };
}

/** Spread replicas over nodes, so one node going down leaves the others serving. */
export function spreadOverNodes(selector: Record<string, string>) {
  return {
    podAntiAffinity: {
      preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 100, podAffinityTerm: { topologyKey: 'kubernetes.io/hostname', labelSelector: { matchLabels: selector } } }],
    },
  };
}
