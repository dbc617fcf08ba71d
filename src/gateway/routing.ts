import { InterlockError } from '../errors.ts';

/**
 * Cross-cluster targets are named `<service>.<cluster>.interlock` in the Host
 * header (an optional port is ignored), in the spirit of the Kubernetes
 * Multi-Cluster Services API's `clusterset.local` names but explicit about
 * which cluster is meant.
 */
export const TARGET_SUFFIX = 'interlock';
const TARGET = /^([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)\.([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)\.interlock\.?$/;

export interface Target {
  readonly service: string;
  readonly cluster: string;
  /** `<service>.<cluster>.interlock`, normalised. */
  readonly authority: string;
}

export function parseTarget(host: string | undefined): Target {
  const name = (host ?? '').replace(/:\d+$/, '').toLowerCase();
  const match = TARGET.exec(name);
  if (!match) {
    throw new InterlockError('IL_ERR_ROUTE_INVALID_HOST', `Host ${JSON.stringify(host ?? '')} does not name a target`, {
      field: 'host',
      hint: 'send requests with Host: <service>.<cluster>.interlock',
    });
  }
  const service = match[1]!;
  const cluster = match[3]!;
  return { service, cluster, authority: `${service}.${cluster}.${TARGET_SUFFIX}` };
}
