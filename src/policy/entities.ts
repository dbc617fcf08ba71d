/**
 * The Cedar entity model of a cross-cluster call (also in docs/policy.md):
 *
 *   principal  Interlock::Workload::"<SPIFFE ID>"
 *                attrs { trustDomain, cluster, namespace?, serviceAccount? }
 *   action     Interlock::Action::"call"
 *   resource   Interlock::Service::"<cluster>/<service>"
 *                attrs { cluster, name }
 *   context    { method, path, sourceCluster, time? }
 *
 * namespace and serviceAccount are omitted, not "", when the identity has
 * none (a SPIFFE ID need not follow the /ns/<ns>/sa/<sa> convention). Cedar
 * then makes `principal.namespace` an evaluation error, which the PDP turns
 * into a deny, and `principal has namespace` tells the cases apart — whereas
 * "" would quietly compare unequal and could satisfy a `!=` test.
 *
 * context.time is a Cedar `datetime` read from the PDP's clock, added only
 * when some policy mentions `time`: building it costs about a quarter of a
 * decision.
 */
import type { CedarValueJson, StatefulAuthorizationCall } from '@cedar-policy/cedar-wasm/nodejs';
import type { PolicyRequest } from './pdp.ts';

export const WORKLOAD_TYPE = 'Interlock::Workload';
export const ACTION_TYPE = 'Interlock::Action';
export const CALL_ACTION_ID = 'call';
export const SERVICE_TYPE = 'Interlock::Service';

export type CedarRequest = Omit<StatefulAuthorizationCall, 'preparsedPolicySetId'>;

/** Entity id of a service: `<cluster>/<service>`, as policies name it. */
export function serviceEntityId(cluster: string, service: string): string {
  return `${cluster}/${service}`;
}

/** Returns what is wrong with a request that did not come through the type checker, or undefined. */
export function requestProblem(req: PolicyRequest): string | undefined {
  const value = req as unknown as Record<string, Record<string, unknown> | undefined>;
  const required: Array<[string, string]> = [
    ['principal', 'id'], ['principal', 'trustDomain'], ['principal', 'cluster'],
    ['resource', 'cluster'], ['resource', 'service'],
    ['context', 'method'], ['context', 'path'], ['context', 'sourceCluster'],
  ];
  for (const [part, key] of required) {
    if (typeof value?.[part]?.[key] !== 'string') return `${part}.${key} must be a string`;
  }
  for (const key of ['namespace', 'serviceAccount']) {
    const attr = value['principal']?.[key];
    if (attr !== undefined && typeof attr !== 'string') return `principal.${key} must be a string when present`;
  }
  return undefined;
}

/** Maps a request onto the entity model above; `now` is given only when a policy reads time. */
export function toCedarRequest(req: PolicyRequest, now: Date | undefined): CedarRequest {
  const { principal, resource, context } = req;
  const principalUid = { type: WORKLOAD_TYPE, id: principal.id };
  const resourceUid = { type: SERVICE_TYPE, id: serviceEntityId(resource.cluster, resource.service) };
  const principalAttrs: Record<string, CedarValueJson> = {
    trustDomain: principal.trustDomain,
    cluster: principal.cluster,
  };
  if (principal.namespace !== undefined) principalAttrs['namespace'] = principal.namespace;
  if (principal.serviceAccount !== undefined) principalAttrs['serviceAccount'] = principal.serviceAccount;

  const cedarContext: Record<string, CedarValueJson> = {
    method: context.method,
    path: context.path,
    sourceCluster: context.sourceCluster,
  };
  // toISOString gives YYYY-MM-DDTHH:MM:SS.sssZ, one of the forms Cedar's datetime() accepts.
  if (now !== undefined) cedarContext['time'] = { __extn: { fn: 'datetime', arg: now.toISOString() } };

  return {
    principal: principalUid,
    action: { type: ACTION_TYPE, id: CALL_ACTION_ID },
    resource: resourceUid,
    context: cedarContext,
    entities: [
      { uid: principalUid, attrs: principalAttrs, parents: [] },
      { uid: resourceUid, attrs: { cluster: resource.cluster, name: resource.service }, parents: [] },
    ],
  };
}
