/**
 * The policy decision point: `request → decision`, pure apart from the clock.
 * The inbound gateway calls decide() for every cross-cluster call, so it is
 * built to fail closed (DESIGN.md, Policy: any evaluation error is a deny)
 * and to be cheap to call repeatedly:
 *
 *   1. slicing.ts picks the policies whose scope can match the call, so
 *      Cedar evaluates a handful of policies instead of the whole bundle;
 *   2. decision-cache.ts answers repeated calls without Cedar, keyed on
 *      everything those policies can read (read-set.ts);
 *   3. entities.ts hands Cedar only the request parts the slice can read.
 *
 * None of this changes a decision: test/policy/equivalence.test.ts compares
 * it with plain, uncached Cedar on the whole set over generated policies and
 * requests. One PDP serves one policy bundle; a new bundle is a new PDP, so
 * nothing cached survives a bundle change. The entity model is in entities.ts.
 */
import { statefulIsAuthorized } from '@cedar-policy/cedar-wasm/nodejs';
import { systemClock } from '../clock.ts';
import type { Clock } from '../clock.ts';
import { DEFAULT_CACHE_SIZE, DecisionCache, decisionKey } from './decision-cache.ts';
import type { CacheStats } from './decision-cache.ts';
import { copyDecision, defaultDeny, failed, interpretAnswer } from './decision.ts';
import { requestProblem, serviceEntityId, toCedarRequest } from './entities.ts';
import { PolicySlicer } from './slicing.ts';
import type { Slice } from './slicing.ts';
import type { CompiledPolicies } from './compile.ts';

export { loadPolicyFile, parsePolicies } from './compile.ts';
export type { CompiledPolicies, CompiledPolicy } from './compile.ts';
export type { CacheStats } from './decision-cache.ts';

export interface PolicyRequest {
  principal: {
    /** spiffe://<trust-domain>/<path> */
    id: string;
    trustDomain: string;
    cluster: string;
    namespace?: string;
    serviceAccount?: string;
  };
  resource: {
    cluster: string;
    service: string;
    /** Data classification from the service's registration, e.g. "public", "internal", "confidential", "restricted". */
    classification?: string;
  };
  context: {
    method: string;
    path: string;
    sourceCluster: string;
    /** Declared purpose of the call, from the `interlock-purpose` request header. */
    purpose?: string;
  };
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

export interface PdpOptions {
  /** Most decisions kept in the LRU cache; 0 turns caching off. Default 10,000. */
  readonly cacheSize?: number;
  /**
   * Most policy slices preparsed in cedar-wasm (each ~8 KiB there, never
   * freed); further requests are evaluated against the whole set. 0 turns
   * slicing off. Default 4,096.
   */
  readonly maxSlices?: number;
}

export const DEFAULT_MAX_SLICES = 4096;

export class PolicyDecisionPoint {
  readonly policies: CompiledPolicies;
  readonly #clock: Clock;
  readonly #slicer: PolicySlicer;
  readonly #cache: DecisionCache;
  /** Policy id → position in the file, to put Cedar's unordered answers in a stable order. */
  readonly #order: ReadonlyMap<string, number>;

  /**
   * @throws InterlockError IL_ERR_POLICY_INVALID if `policies` was not produced by parsePolicies and does not parse.
   */
  constructor(policies: CompiledPolicies, clock: Clock = systemClock, options: PdpOptions = {}) {
    this.policies = policies;
    this.#clock = clock;
    this.#order = new Map(policies.policies.map((p, i) => [p.id, i]));
    this.#cache = new DecisionCache(options.cacheSize ?? DEFAULT_CACHE_SIZE);
    this.#slicer = new PolicySlicer(policies, options.maxSlices ?? DEFAULT_MAX_SLICES);
    // Preparse the catch-all slice now, so a broken set fails here, and the
    // first calls do not pay for it.
    const first = this.#slicer.sliceFor('', '');
    if (first.policies.length > 0) first.preparedId();
  }

  /** Decides one call. Never throws: anything unexpected is a deny with IL_ERR_POLICY_EVALUATION_FAILED. */
  decide(req: PolicyRequest): PolicyDecision {
    try {
      const problem = requestProblem(req);
      if (problem !== undefined) return failed([], `malformed request: ${problem}`);
      const slice = this.#slicer.sliceFor(req.principal.id, serviceEntityId(req.resource.cluster, req.resource.service));
      // A slice that reads the clock decides differently from one moment to the next.
      const key = slice.readsTime || this.#cache.capacity === 0 ? undefined : decisionKey(req, slice.shape.contextFields);
      if (key !== undefined) {
        const cached = this.#cache.get(key);
        if (cached !== undefined) return copyDecision(cached);
      }
      this.#cache.countMiss();
      const { decision, fromCedar } = this.#evaluate(slice, req);
      if (key !== undefined && fromCedar) this.#cache.set(key, copyDecision(decision));
      return decision;
    } catch (err) {
      return failed([], `evaluation failed: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  /** Cache counters, for metrics. */
  stats(): CacheStats {
    return this.#cache.stats();
  }

  #evaluate(slice: Slice, req: PolicyRequest): { decision: PolicyDecision; fromCedar: boolean } {
    // No policy can apply: Cedar's answer is a default deny, without the ~60 µs of asking.
    if (slice.policies.length === 0) return { decision: defaultDeny(), fromCedar: true };
    const now = slice.readsTime ? this.#clock.now() : undefined;
    const answer = statefulIsAuthorized({ ...toCedarRequest(req, now, slice.shape), preparsedPolicySetId: slice.preparedId() });
    return interpretAnswer(answer, this.#order);
  }
}
