import type { ErrorCode } from '../errors.ts';
import type { Clock } from '../clock.ts';
import { PolicyDecisionPoint, parsePolicies, type PolicyDecision, type PolicyRequest } from '../policy/pdp.ts';
import { inCanary, type PolicyBundle } from '../policy/bundle-format.ts';
import type { Logger } from '../telemetry/logger.ts';

/**
 * The policy a gateway enforces right now, swapped atomically when a new
 * bundle arrives: requests on connections that are already open use the new
 * version from their next request on. Fails closed: no bundle, or an expired
 * one, denies every call.
 */
export interface GatewayDecision {
  readonly allowed: boolean;
  readonly policyIds: string[];
  readonly reason: string;
  readonly errorCode?: ErrorCode;
  /** The version that decided, null when no bundle is in force. */
  readonly version: number | null;
}

export interface RolloutCounters {
  evaluated: number;
  disagreements: number;
  /** The candidate would deny what the active version allows. */
  allowToDeny: number;
  denyToAllow: number;
}

interface Loaded {
  readonly bundle: PolicyBundle | null;
  readonly active: PolicyDecisionPoint;
  readonly candidate: PolicyDecisionPoint | null;
  /** True when this gateway enforces the candidate (canary). */
  readonly canary: boolean;
}

export type PolicyHealth = 'fresh' | 'expired' | 'unavailable';

export class PolicyState {
  readonly #cluster: string;
  readonly #clock: Clock;
  readonly #log: Logger;
  #loaded: Loaded | undefined;
  #retiredCache = { hits: 0, misses: 0 };
  #counters: RolloutCounters = { evaluated: 0, disagreements: 0, allowToDeny: 0, denyToAllow: 0 };

  constructor(cluster: string, clock: Clock, log: Logger) {
    this.#cluster = cluster;
    this.#clock = clock;
    this.#log = log;
  }

  /** A local policy file: no signature, no expiry (development and the offline CA flow). */
  loadFile(pdp: PolicyDecisionPoint): void {
    this.#loaded = { bundle: null, active: pdp, candidate: null, canary: false };
  }

  /** A verified bundle (see policy/bundle-verify.ts). Builds the PDPs first, then swaps in one assignment. */
  loadBundle(bundle: PolicyBundle): void {
    const same = this.#loaded?.bundle;
    const active = same && same.digest === bundle.digest ? this.#loaded!.active : new PolicyDecisionPoint(parsePolicies(bundle.policies, `bundle v${bundle.version}`), this.#clock);
    const candidate = bundle.candidate
      ? same?.candidate?.digest === bundle.candidate.digest && this.#loaded?.candidate
        ? this.#loaded.candidate
        : new PolicyDecisionPoint(parsePolicies(bundle.candidate.policies, `bundle candidate v${bundle.candidate.version}`), this.#clock)
      : null;
    if (bundle.candidate?.version !== same?.candidate?.version) this.#counters = { evaluated: 0, disagreements: 0, allowToDeny: 0, denyToAllow: 0 };
    const previous = this.#loaded?.active;
    if (previous && previous !== active) {
      const stats = previous.stats();
      this.#retiredCache = { hits: this.#retiredCache.hits + stats.hits, misses: this.#retiredCache.misses + stats.misses };
    }
    this.#loaded = { bundle, active, candidate, canary: bundle.candidate ? inCanary(bundle.candidate, this.#cluster) : false };
  }

  /** Decision-cache hits and misses of the enforcing decision points, summed across bundle swaps (never decreasing). */
  cacheStats(): { hits: number; misses: number } {
    const live = this.#loaded?.active.stats();
    return { hits: this.#retiredCache.hits + (live?.hits ?? 0), misses: this.#retiredCache.misses + (live?.misses ?? 0) };
  }

  get bundle(): PolicyBundle | null {
    return this.#loaded?.bundle ?? null;
  }

  get counters(): Readonly<RolloutCounters> {
    return this.#counters;
  }

  health(): PolicyHealth {
    const loaded = this.#loaded;
    if (!loaded) return 'unavailable';
    if (loaded.bundle && this.#clock.now().getTime() >= Date.parse(loaded.bundle.expiresAt)) return 'expired';
    return 'fresh';
  }

  describe() {
    const loaded = this.#loaded;
    return {
      state: this.health(),
      source: loaded ? (loaded.bundle ? 'control-plane' : 'file') : null,
      enforcedVersion: loaded?.bundle ? (loaded.canary ? loaded.bundle.candidate!.version : loaded.bundle.version) : null,
      activeVersion: loaded?.bundle?.version ?? null,
      candidateVersion: loaded?.bundle?.candidate?.version ?? null,
      candidateMode: loaded?.bundle?.candidate ? (loaded.canary ? ('canary' as const) : ('dry-run' as const)) : null,
      expiresAt: loaded?.bundle?.expiresAt ?? null,
      ...this.#counters,
    };
  }

  decide(request: PolicyRequest): GatewayDecision {
    const loaded = this.#loaded;
    const health = this.health();
    if (!loaded || health === 'unavailable') {
      return { allowed: false, policyIds: [], reason: 'no policy bundle has been received (fail closed)', errorCode: 'IL_ERR_POLICY_UNAVAILABLE', version: null };
    }
    if (health === 'expired') {
      return { allowed: false, policyIds: [], reason: `policy bundle v${loaded.bundle!.version} expired at ${loaded.bundle!.expiresAt} (fail closed)`, errorCode: 'IL_ERR_POLICY_EXPIRED', version: loaded.bundle!.version };
    }
    const enforcing = loaded.canary ? loaded.candidate! : loaded.active;
    const decision: PolicyDecision = enforcing.decide(request);
    const version = loaded.bundle ? (loaded.canary ? loaded.bundle.candidate!.version : loaded.bundle.version) : null;
    if (loaded.candidate) this.#shadow(loaded, request, decision);
    return { ...decision, version };
  }

  /** Evaluates the version not enforced and counts where candidate and active disagree. */
  #shadow(loaded: Loaded, request: PolicyRequest, enforced: PolicyDecision): void {
    const other = (loaded.canary ? loaded.active : loaded.candidate!).decide(request);
    const candidateAllows = loaded.canary ? enforced.allowed : other.allowed;
    const activeAllows = loaded.canary ? other.allowed : enforced.allowed;
    this.#counters.evaluated++;
    if (candidateAllows === activeAllows) return;
    this.#counters.disagreements++;
    if (activeAllows) this.#counters.allowToDeny++;
    else this.#counters.denyToAllow++;
    this.#log.info(
      { event: 'policy.disagreement', candidate: loaded.bundle?.candidate?.version, principal: request.principal.id, resource: `${request.resource.cluster}/${request.resource.service}`, method: request.context.method, activeAllows, candidateAllows },
      'candidate policy disagrees with the active one',
    );
  }
}
