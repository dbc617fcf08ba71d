/**
 * The Cedar entity model of a cross-cluster call (also in docs/policy.md):
 *
 *   principal  Interlock::Workload::"<SPIFFE ID>"
 *                attrs { trustDomain, cluster, namespace?, serviceAccount? }
 *   action     Interlock::Action::"call"
 *   resource   Interlock::Service::"<cluster>/<service>"
 *                attrs { cluster, name, classification? }
 *   context    { method, path, sourceCluster, purpose?, time? }
 *
 * Optional attributes (namespace, serviceAccount, classification, purpose)
 * are omitted, never "", when the request has none (a SPIFFE ID need not
 * follow the /ns/<ns>/sa/<sa> convention; a service may have no
 * classification; a caller may declare no purpose). Cedar then makes
 * reading one an evaluation error, which the PDP turns into a deny, and
 * `has` tells the cases apart — whereas "" would quietly compare unequal
 * and could satisfy a `!=` test.
 *
 * context.time is a Cedar `datetime` read from the PDP's clock, added only
 * when a policy that can apply reads it: building it costs about a quarter
 * of a decision.
 */
import type { CedarValueJson, StatefulAuthorizationCall } from '@cedar-policy/cedar-wasm/nodejs';
import type { PolicyRequest } from './pdp.ts';

export const WORKLOAD_TYPE = 'Interlock::Workload';
export const ACTION_TYPE = 'Interlock::Action';
export const CALL_ACTION_ID = 'call';
export const SERVICE_TYPE = 'Interlock::Service';

export type CedarRequest = Omit<StatefulAuthorizationCall, 'preparsedPolicySetId'>;

/** Context attributes taken from the request (time comes from the clock). */
export const CONTEXT_FIELDS = ['method', 'path', 'sourceCluster', 'purpose'] as const;
export type ContextField = (typeof CONTEXT_FIELDS)[number];

/**
 * Which parts of the request to hand Cedar. Marshalling the two entities
 * is about half the cost of a call, so the PDP leaves out what no policy of
 * the slice can read (read-set.ts); the default is everything.
 */
export interface RequestShape {
  readonly contextFields?: readonly ContextField[];
  readonly principalEntity?: boolean;
  readonly resourceEntity?: boolean;
}

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
  const optional: Array<[string, string]> = [
    ['principal', 'namespace'], ['principal', 'serviceAccount'], ['resource', 'classification'], ['context', 'purpose'],
  ];
  for (const [part, key] of optional) {
    const attr = value[part]?.[key];
    if (attr !== undefined && typeof attr !== 'string') return `${part}.${key} must be a string when present`;
  }
  return undefined;
}

/** Maps a request onto the entity model above; `now` is given only when a policy reads time. */
export function toCedarRequest(req: PolicyRequest, now: Date | undefined, shape: RequestShape = {}): CedarRequest {
  const { principal, resource, context } = req;
  const principalUid = { type: WORKLOAD_TYPE, id: principal.id };
  const resourceUid = { type: SERVICE_TYPE, id: serviceEntityId(resource.cluster, resource.service) };

  const cedarContext: Record<string, CedarValueJson> = {};
  for (const field of shape.contextFields ?? CONTEXT_FIELDS) {
    const value = context[field];
    if (value !== undefined) cedarContext[field] = value;
  }
  // toISOString gives YYYY-MM-DDTHH:MM:SS.sssZ, one of the forms Cedar's datetime() accepts.
  if (now !== undefined) cedarContext['time'] = { __extn: { fn: 'datetime', arg: now.toISOString() } };

  const entities: CedarRequest['entities'] = [];
  if (shape.principalEntity !== false) {
    const attrs: Record<string, CedarValueJson> = { trustDomain: principal.trustDomain, cluster: principal.cluster };
    if (principal.namespace !== undefined) attrs['namespace'] = principal.namespace;
    if (principal.serviceAccount !== undefined) attrs['serviceAccount'] = principal.serviceAccount;
    entities.push({ uid: principalUid, attrs, parents: [] });
  }
  if (shape.resourceEntity !== false) {
    const attrs: Record<string, CedarValueJson> = { cluster: resource.cluster, name: resource.service };
    if (resource.classification !== undefined) attrs['classification'] = resource.classification;
    entities.push({ uid: resourceUid, attrs, parents: [] });
  }

  return {
    principal: principalUid,
    action: { type: ACTION_TYPE, id: CALL_ACTION_ID },
    resource: resourceUid,
    context: cedarContext,
    entities,
  };
}
