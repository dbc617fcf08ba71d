import { InterlockError } from '../errors.ts';
import type { Clock } from '../clock.ts';
import type { KeySecret } from '../pki/key-protection.ts';
import { BUNDLE_TOKEN_TYPE, POLICY_SIGNER_PATH, policyDigest, type BundleCandidate, type PolicyBundle, type RolloutStage } from '../policy/bundle-format.ts';
import type { PolicyVersionRow, Store } from '../store/types.ts';
import type { CaService } from './ca-service.ts';
import { ControlPlaneSigner } from './signer.ts';

const ROLLOUT_SETTING = 'policy-rollout';
const REPORT_PREFIX = 'policy-report:';

export interface Rollout {
  readonly version: number;
  readonly stage: RolloutStage;
  readonly canary: { clusters: string[]; percent: number };
  readonly by: string;
  readonly at: string;
}

/** What a gateway tells the control plane about its policy, for `interlock policy status`. */
export interface GatewayPolicyReport {
  readonly cluster: string;
  readonly gateway: string;
  readonly enforcedVersion: number | null;
  readonly candidateVersion: number | null;
  readonly candidateMode: 'dry-run' | 'canary' | null;
  readonly state: 'fresh' | 'expired' | 'unavailable';
  readonly expiresAt: string | null;
  readonly evaluated: number;
  readonly disagreements: number;
  readonly allowToDeny: number;
  readonly denyToAllow: number;
  readonly reportedAt: string;
}

/**
 * Signed policy bundles and their staged rollout. The signer is a
 * certificate issued directly by the root (`spiffe://<domain>/interlock/
 * policy-signer`), created once and stored sealed, so every replica signs
 * with the same key and gateways trust it through the bundle they already have.
 */
export class PolicyService {
  readonly #store: Store;
  readonly #clock: Clock;
  readonly #bundleTtlMs: number;
  readonly #signer: ControlPlaneSigner;

  constructor(store: Store, ca: CaService, secret: KeySecret, clock: Clock, bundleTtlMs: number) {
    this.#store = store;
    this.#clock = clock;
    this.#bundleTtlMs = bundleTtlMs;
    this.#signer = new ControlPlaneSigner(store, ca, secret, clock, { setting: 'policy-signer', path: POLICY_SIGNER_PATH, auditPrefix: 'policy.signer' });
  }

  #now(): string {
    return this.#clock.now().toISOString();
  }

  /** After a root switch (CA rotation): the signer is re-issued by the root that now signs. */
  rotateSigner(): Promise<void> {
    return this.#signer.rotate();
  }

  /** Another replica may have rotated the signer: load it from the store again. */
  forgetSigner(): void {
    this.#signer.forget();
  }

  async rollout(): Promise<Rollout | undefined> {
    return (await this.#store.getSetting(ROLLOUT_SETTING)) as Rollout | undefined;
  }

  /** The current bundle, freshly signed: active version plus any candidate in rollout. */
  async signedBundle(): Promise<{ jws: string; bundle: PolicyBundle }> {
    const active = await this.#store.getActivePolicy();
    if (!active) throw new InterlockError('IL_ERR_POLICY_UNAVAILABLE', 'no policy version is active yet', { field: 'policy' });
    const rollout = await this.rollout();
    let candidate: BundleCandidate | null = null;
    if (rollout && rollout.version !== active.version) {
      const row = await this.#store.getPolicyVersion(rollout.version);
      if (row && row.status === 'approved') {
        candidate = { version: row.version, digest: policyDigest(row.text), policies: row.text, stage: rollout.stage, canary: rollout.canary };
      }
    }
    const now = this.#clock.now();
    const bundle: PolicyBundle = {
      v: 1,
      version: active.version,
      // The bundle's digest is over the exact text it carries, so a gateway can recompute it.
      digest: policyDigest(active.text),
      policies: active.text,
      issuedAt: now.toISOString(),
      expiresAt: new Date(now.getTime() + this.#bundleTtlMs).toISOString(),
      candidate,
    };
    const jws = await this.#signer.sign(bundle, BUNDLE_TOKEN_TYPE);
    return { jws, bundle };
  }

  /** Stages an approved version: dry-run everywhere, or canary on named clusters / a percentage. */
  async stage(version: number, stage: RolloutStage, canary: { clusters: string[]; percent: number }, actor: string): Promise<Rollout> {
    const at = this.#now();
    return this.#store.transaction(async (tx) => {
      const row = await tx.getPolicyVersion(version);
      if (!row) throw new InterlockError('IL_ERR_NOT_FOUND', `no policy version ${version}`, { field: 'version' });
      if (row.proposedBy === actor) throw new InterlockError('IL_ERR_SEPARATION_OF_DUTIES', `${actor} proposed version ${version} and so cannot roll it out`, { field: 'version' });
      if (row.status !== 'approved') throw new InterlockError('IL_ERR_POLICY_STATE_CONFLICT', `version ${version} is ${row.status}; only an approved version can be staged`, { field: 'version' });
      const rollout: Rollout = { version, stage, canary, by: actor, at };
      await tx.putSetting(ROLLOUT_SETTING, rollout);
      await tx.appendAudit({ type: 'policy.staged', actor, data: { version, stage, clusters: canary.clusters, percent: canary.percent } }, at);
      await tx.appendEvent('policy.rollout', { version, stage }, at);
      return rollout;
    });
  }

  /**
   * Rollback: a new version carrying the text of an earlier active one, made
   * active at once. Versions only grow, so gateways' downgrade check holds;
   * the old text was approved once, so no second approval is asked.
   */
  async rollback(toVersion: number, actor: string): Promise<PolicyVersionRow> {
    const at = this.#now();
    return this.#store.transaction(async (tx) => {
      const old = await tx.getPolicyVersion(toVersion);
      if (!old) throw new InterlockError('IL_ERR_NOT_FOUND', `no policy version ${toVersion}`, { field: 'version' });
      if (old.status !== 'superseded' && old.status !== 'active') {
        throw new InterlockError('IL_ERR_POLICY_STATE_CONFLICT', `version ${toVersion} was never active (${old.status}); only a formerly active version can be rolled back to`, { field: 'version' });
      }
      const current = await tx.getActivePolicy();
      if (current) await tx.setPolicyStatus(current.version, 'active', 'superseded', actor, at, `rolled back to ${toVersion}`);
      const row = await tx.insertPolicyVersion({ text: old.text, digest: old.digest, status: 'active', proposedBy: actor, proposedAt: at, decidedBy: actor, decidedAt: at, comment: `rollback to version ${toVersion}` });
      await tx.putSetting(ROLLOUT_SETTING, null);
      await tx.appendAudit({ type: 'policy.rolled-back', actor, data: { version: row.version, copyOf: toVersion, replaced: current?.version ?? null } }, at);
      await tx.appendEvent('policy.activated', { version: row.version, digest: row.digest }, at);
      return row;
    });
  }

  async clearRolloutIf(version: number): Promise<void> {
    const rollout = await this.rollout();
    if (rollout?.version === version) await this.#store.putSetting(ROLLOUT_SETTING, null);
  }

  async report(report: GatewayPolicyReport): Promise<void> {
    await this.#store.putSetting(`${REPORT_PREFIX}${report.cluster}`, report);
  }

  async status(clusters: readonly string[]) {
    const versions = await this.#store.listPolicyVersions();
    const reports = [];
    for (const cluster of clusters) {
      const report = (await this.#store.getSetting(`${REPORT_PREFIX}${cluster}`)) as GatewayPolicyReport | undefined;
      reports.push(report ?? { cluster, state: 'unreported' });
    }
    return {
      active: versions.find((v) => v.status === 'active')?.version ?? null,
      rollout: (await this.rollout()) ?? null,
      versions: versions.map(({ text: _text, ...v }) => v),
      gateways: reports,
    };
  }
}
