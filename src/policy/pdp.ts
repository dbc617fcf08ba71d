/**
 * The policy decision point: `request → decision`, pure apart from the clock.
 * The inbound gateway calls decide() for every cross-cluster call, so it is
 * built to fail closed (DESIGN.md, Policy: any evaluation error is a deny)
 * and to be cheap to call repeatedly. The entity model is in entities.ts.
 */
import { preparsePolicySet, statefulIsAuthorized } from '@cedar-policy/cedar-wasm/nodejs';
import type { AuthorizationAnswer } from '@cedar-policy/cedar-wasm/nodejs';
import { systemClock } from '../clock.ts';
import type { Clock } from '../clock.ts';
import { InterlockError } from '../errors.ts';
import { policySetDigest } from './compile.ts';
import type { CompiledPolicies } from './compile.ts';
import { requestProblem, toCedarRequest } from './entities.ts';

export { loadPolicyFile, parsePolicies } from './compile.ts';
export type { CompiledPolicies, CompiledPolicy } from './compile.ts';

export interface PolicyRequest {
  principal: {
    /** spiffe://<trust-domain>/<path> */
    id: string;
    trustDomain: string;
    cluster: string;
    namespace?: string;
    serviceAccount?: string;
  };
  resource: { cluster: string; service: string };
  context: { method: string; path: string; sourceCluster: string };
}

export interface PolicyDecision {
  allowed: boolean;
  /**
   * The determining policies: the permits that allowed, the forbids that
   * denied, or the policies whose evaluation failed. In source order.
   */
  policyIds: string[];
  /** One short sentence for logs and audit records. */
  reason: string;
  errorCode?: 'IL_ERR_POLICY_DENIED' | 'IL_ERR_POLICY_EVALUATION_FAILED';
}

/** Shared with cedar-wasm's process-wide cache, so prefixed to avoid other users' names. */
const PREPARSED_PREFIX = 'interlock-policy:';

export class PolicyDecisionPoint {
  readonly policies: CompiledPolicies;
  readonly #clock: Clock;
  readonly #preparsedId: string;
  /** Policy id → position in the file, to put Cedar's unordered answers in a stable order. */
  readonly #order: ReadonlyMap<string, number>;

  /**
   * @throws InterlockError IL_ERR_POLICY_INVALID if `policies` was not produced by parsePolicies and does not parse.
   */
  constructor(policies: CompiledPolicies, clock: Clock = systemClock) {
    this.policies = policies;
    this.#clock = clock;
    this.#order = new Map(policies.policies.map((p, i) => [p.id, i]));
    // Preparsing once makes a decision ~5x faster than handing Cedar the
    // policy text each time. Cedar's cache is per thread and never evicts,
    // so the key is the content digest, recomputed here rather than trusted:
    // identical sets share one entry, and a PDP can never pick up a
    // different set stored under the same name.
    this.#preparsedId = PREPARSED_PREFIX + policySetDigest(policies.policies);
    const staticPolicies = Object.fromEntries(policies.policies.map((p) => [p.id, p.text]));
    const answer = preparsePolicySet(this.#preparsedId, { staticPolicies });
    if (answer.type === 'failure') {
      const detail = answer.errors.map((e) => e.message).join('; ');
      throw new InterlockError('IL_ERR_POLICY_INVALID', `${policies.source}: ${detail}`, {
        field: policies.source,
        hint: 'build policy sets with parsePolicies or loadPolicyFile',
      });
    }
  }

  /** Decides one call. Never throws: anything unexpected is a deny with IL_ERR_POLICY_EVALUATION_FAILED. */
  decide(req: PolicyRequest): PolicyDecision {
    try {
      const problem = requestProblem(req);
      if (problem !== undefined) return failed([], `malformed request: ${problem}`);
      const now = this.policies.readsTime ? this.#clock.now() : undefined;
      const answer = statefulIsAuthorized({ ...toCedarRequest(req, now), preparsedPolicySetId: this.#preparsedId });
      return this.#interpret(answer);
    } catch (err) {
      return failed([], `evaluation failed: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  #interpret(answer: AuthorizationAnswer): PolicyDecision {
    if (answer.type !== 'success') {
      const detail = answer.errors.map((e) => e.message).join('; ') || 'cedar gave no reason';
      return failed([], `evaluation failed: ${detail}`);
    }
    const { decision, diagnostics } = answer.response;

    // Cedar skips a policy whose condition errors and decides without it, so
    // an erroring forbid would let the call through. Any error is a deny.
    if (diagnostics.errors.length > 0) {
      const errors = [...diagnostics.errors].sort((a, b) => this.#compare(a.policyId, b.policyId));
      const ids = [...new Set(errors.map((e) => e.policyId))];
      const detail = errors.map((e) => `${e.policyId}: ${e.error.message}`).join('; in policy ');
      return failed(ids, `evaluation error in policy ${detail}`);
    }

    // Cedar reports determining policies in a different order on every call.
    const ids = [...new Set(diagnostics.reason)].sort((a, b) => this.#compare(a, b));
    if (decision === 'allow') {
      // An allow must name a permit; anything else is not a state to trust.
      if (ids.length === 0) return failed([], 'evaluation failed: allow without a determining policy');
      return { allowed: true, policyIds: ids, reason: `allowed by ${ids.join(', ')}` };
    }
    if (decision === 'deny') {
      const reason = ids.length === 0 ? 'no policy permits this call (default deny)' : `forbidden by ${ids.join(', ')}`;
      return { allowed: false, policyIds: ids, reason, errorCode: 'IL_ERR_POLICY_DENIED' };
    }
    return failed(ids, `evaluation failed: unknown decision ${JSON.stringify(decision)}`);
  }

  #compare(a: string, b: string): number {
    const ia = this.#order.get(a) ?? Number.MAX_SAFE_INTEGER;
    const ib = this.#order.get(b) ?? Number.MAX_SAFE_INTEGER;
    return ia !== ib ? ia - ib : a < b ? -1 : a > b ? 1 : 0;
  }
}

function failed(policyIds: string[], reason: string): PolicyDecision {
  return { allowed: false, policyIds, reason, errorCode: 'IL_ERR_POLICY_EVALUATION_FAILED' };
}
