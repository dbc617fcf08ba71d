/**
 * Turns Cedar's answer into an Interlock decision, failing closed
 * (DESIGN.md, Policy: any evaluation error is a deny). Pure: the PDP and
 * the equivalence test's uncached reference both use it, so a difference
 * between them can only come from what Cedar was asked.
 */
import type { AuthorizationAnswer } from '@cedar-policy/cedar-wasm/nodejs';
import type { PolicyDecision } from './pdp.ts';

export interface Interpreted {
  readonly decision: PolicyDecision;
  /**
   * Whether the decision is Cedar's answer to the request and nothing else
   * (so the same request always gets it): true for allow, deny and
   * evaluation errors in policies, false when Cedar itself failed.
   */
  readonly fromCedar: boolean;
}

/** Puts policy ids in source order; `order` maps an id to its position in the file. */
export type PolicyOrder = ReadonlyMap<string, number>;

/** What Cedar answers when no policy is satisfied; the PDP gives it without asking Cedar for an empty slice. */
export function defaultDeny(): PolicyDecision {
  return { allowed: false, policyIds: [], reason: DEFAULT_DENY_REASON, errorCode: 'IL_ERR_POLICY_DENIED' };
}

const DEFAULT_DENY_REASON = 'no policy permits this call (default deny)';

export function interpretAnswer(answer: AuthorizationAnswer, order: PolicyOrder): Interpreted {
  if (answer.type !== 'success') {
    const detail = answer.errors.map((e) => e.message).join('; ') || 'cedar gave no reason';
    return { decision: failed([], `evaluation failed: ${detail}`), fromCedar: false };
  }
  const { decision, diagnostics } = answer.response;
  const compare = (a: string, b: string): number => {
    const ia = order.get(a) ?? Number.MAX_SAFE_INTEGER;
    const ib = order.get(b) ?? Number.MAX_SAFE_INTEGER;
    return ia !== ib ? ia - ib : a < b ? -1 : a > b ? 1 : 0;
  };

  // Cedar skips a policy whose condition errors and decides without it, so
  // an erroring forbid would let the call through. Any error is a deny.
  if (diagnostics.errors.length > 0) {
    const errors = [...diagnostics.errors].sort((a, b) => compare(a.policyId, b.policyId));
    const ids = [...new Set(errors.map((e) => e.policyId))];
    const detail = errors.map((e) => `${e.policyId}: ${e.error.message}`).join('; in policy ');
    return { decision: failed(ids, `evaluation error in policy ${detail}`), fromCedar: true };
  }

  // Cedar reports determining policies in a different order on every call.
  const ids = [...new Set(diagnostics.reason)].sort(compare);
  if (decision === 'allow') {
    // An allow must name a permit; anything else is not a state to trust.
    if (ids.length === 0) return { decision: failed([], 'evaluation failed: allow without a determining policy'), fromCedar: false };
    return { decision: { allowed: true, policyIds: ids, reason: `allowed by ${ids.join(', ')}` }, fromCedar: true };
  }
  if (decision === 'deny') {
    const reason = ids.length === 0 ? DEFAULT_DENY_REASON : `forbidden by ${ids.join(', ')}`;
    return { decision: { allowed: false, policyIds: ids, reason, errorCode: 'IL_ERR_POLICY_DENIED' }, fromCedar: true };
  }
  return { decision: failed(ids, `evaluation failed: unknown decision ${JSON.stringify(decision)}`), fromCedar: false };
}

export function failed(policyIds: string[], reason: string): PolicyDecision {
  return { allowed: false, policyIds, reason, errorCode: 'IL_ERR_POLICY_EVALUATION_FAILED' };
}

/** A copy the caller may change without touching the cached original. */
export function copyDecision(decision: PolicyDecision): PolicyDecision {
  return { ...decision, policyIds: [...decision.policyIds] };
}
