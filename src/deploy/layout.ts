import { GATEWAY_SERVICE_ACCOUNT } from '../identity/spiffe-id.ts';
import type { Values } from './values.ts';

/**
 * Names, labels and in-pod paths shared by the manifests and the config
 * files they carry: a path the gateway config names must be where the
 * Deployment mounts it, so both read it from here.
 */
export const CONTROL_PLANE = 'interlock-control-plane';
/** The gateway's SPIFFE ID is …/ns/interlock-system/sa/interlock-gateway (identity/spiffe-id.ts); its service account matches it. */
export const GATEWAY = GATEWAY_SERVICE_ACCOUNT;
export const GATEWAY_OUTBOUND = `${GATEWAY}-outbound`;

export const SERVER_PATHS = {
  configDir: '/etc/interlock/server',
  configFile: '/etc/interlock/server/server.yaml',
  caSecretDir: '/etc/interlock/ca-key',
  bootstrapDir: '/var/run/interlock/bootstrap',
  bootstrapTokenFile: '/var/run/interlock/bootstrap/admin.token',
} as const;

export const GATEWAY_PATHS = {
  /** The config as rendered, in the ConfigMap. */
  templateDir: '/etc/interlock/gateway',
  templateFile: '/etc/interlock/gateway/gateway.yaml',
  /** The config the gateway runs with: the template with this pod's audit stream (see gateway-manifests.ts). */
  runDir: '/run/interlock',
  runFile: '/run/interlock/gateway.yaml',
  trustDir: '/etc/interlock/trust',
  trustFile: '/etc/interlock/trust/bundle.pem',
  tokenDir: '/var/run/secrets/interlock',
  tokenFile: '/var/run/secrets/interlock/token',
  auditDir: '/var/lib/interlock/audit',
  auditFile: '/var/lib/interlock/audit/gateway.audit.jsonl',
} as const;

/** The CLI inside the image (Dockerfile: WORKDIR /app, ENTRYPOINT node bin/interlock.mjs). */
export const IMAGE_WORKDIR = '/app';
/** Dockerfile USER; the pod's runAsUser, so mounted secrets are readable through fsGroup. */
export const RUN_AS_USER = 10001;

export function imageOf(values: Values): string {
  return values.image.digest ? `${values.image.repository}@${values.image.digest}` : `${values.image.repository}:${values.image.tag}`;
}

/** Recommended labels (kubernetes.io/docs/concepts/overview/working-with-objects/common-labels). */
export function labelsFor(values: Values, component: 'control-plane' | 'gateway', cluster?: string): Record<string, string> {
  return {
    ...selectorFor(component, cluster),
    'app.kubernetes.io/part-of': 'interlock',
    'app.kubernetes.io/version': values.image.tag,
    'app.kubernetes.io/managed-by': 'interlock-deploy-render',
  };
}

/** The subset that selects pods: it must never change across upgrades (a Deployment's selector is immutable). */
export function selectorFor(component: 'control-plane' | 'gateway', cluster?: string): Record<string, string> {
  return {
    'app.kubernetes.io/name': 'interlock',
    'app.kubernetes.io/component': component,
    ...(cluster ? { 'interlock.dev/cluster': cluster } : {}),
  };
}
