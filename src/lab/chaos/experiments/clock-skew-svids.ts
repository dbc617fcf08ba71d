import { InterlockError } from '../../../errors.ts';
import { gatewaySpiffeId } from '../../../identity/spiffe-id.ts';
import { x509 } from '../../../pki/x509.ts';
import type { RegistrationEntryRow } from '../../../store/types.ts';
import type { ExperimentContext } from '../types.ts';

/**
 * SVIDs are backdated by a tenth of their life, at most 30 s
 * (server/ca-service.ts signSvid): a 1 h production SVID by 30 s, the chaos
 * lab's 15 s ones by only 1.5 s. A gateway whose clock is behind by more
 * than the backdate refuses a peer's fresh certificate at the handshake
 * (CERT_NOT_YET_VALID) before it ever reads an identity assertion. To test
 * the assertion's own skew rule, the certificates west's gateway verifies
 * (east's gateway as its client, billing as its upstream) and west's own get
 * a production-like backdate for the experiment, then the lab's lifetime back.
 */
export const SKEW_TEST_SVID_TTL_S = 300;

/** Seconds between a certificate's notBefore and notAfter. */
const lifetimeOf = (notBefore: Date | string, notAfter: Date | string) => (new Date(notAfter).getTime() - new Date(notBefore).getTime()) / 1000;
/** Whether a lifetime is what an entry of `ttlSeconds` issues: the TTL plus a backdate of at most 30 s. */
const issuedWith = (lifetime: number, ttlSeconds: number) => lifetime >= ttlSeconds && lifetime <= ttlSeconds + 31;

async function gatewayLifetime(ctx: ExperimentContext, cluster: string): Promise<number> {
  const admin = ctx.world.clusters.get(cluster)!.gateway.admin;
  try {
    const response = await fetch(`http://${admin.host}:${admin.port}/healthz`, { signal: AbortSignal.timeout(2_000) });
    const body = (await response.json()) as { identity?: { notBefore?: string | null; notAfter?: string | null } };
    return body.identity?.notBefore && body.identity.notAfter ? lifetimeOf(body.identity.notBefore, body.identity.notAfter) : 0;
  } catch {
    return 0;
  }
}

function billingLifetime(ctx: ExperimentContext): number {
  const cert = new x509.X509Certificate(ctx.world.clusters.get('west')!.identities.get('billing')!.certPem);
  return lifetimeOf(cert.notBefore, cert.notAfter);
}

/**
 * Sets the SVID lifetime of east's and west's gateways and west's billing
 * (each entry change revokes the old SVIDs and makes their holders attest
 * again) and waits until east's gateway and billing hold such an SVID; west's
 * gateway is restarted by the experiment anyway. Returns the previous TTLs.
 */
export async function setSkewSvidLifetimes(ctx: ExperimentContext, ttlSeconds: number | ReadonlyMap<string, number>): Promise<Map<string, number>> {
  const east = ctx.world.clusters.get('east')!;
  const west = ctx.world.clusters.get('west')!;
  const wanted = [gatewaySpiffeId(east.trustDomain), gatewaySpiffeId(west.trustDomain), west.identities.get('billing')!.spiffeId.id];
  const entries = await ctx.world.controlPlane.call<RegistrationEntryRow[]>('GET', '/v1/entries');
  const ttlOf = (spiffeId: string) => (typeof ttlSeconds === 'number' ? ttlSeconds : ttlSeconds.get(spiffeId)!);
  const previous = new Map<string, number>();
  for (const spiffeId of wanted) {
    const entry = entries.find((e) => e.spiffeId === spiffeId);
    if (!entry) throw new InterlockError('IL_ERR_LAB_FAILED', `no registration entry for ${spiffeId}`, { field: 'spiffeId' });
    previous.set(spiffeId, entry.ttlSeconds);
    if (entry.ttlSeconds !== ttlOf(spiffeId)) await ctx.world.controlPlane.call('PATCH', `/v1/entries/${entry.id}`, { ttlSeconds: ttlOf(spiffeId) });
  }
  const until = performance.now() + 15_000;
  let lifetimes = { eastGateway: 0, billing: 0 };
  for (;;) {
    lifetimes = { eastGateway: await gatewayLifetime(ctx, 'east'), billing: billingLifetime(ctx) };
    if (issuedWith(lifetimes.eastGateway, ttlOf(wanted[0]!)) && issuedWith(lifetimes.billing, ttlOf(wanted[2]!))) return previous;
    if (performance.now() > until) break;
    await ctx.sleep(100);
  }
  throw new InterlockError('IL_ERR_LAB_FAILED', `SVIDs not re-issued with the new lifetime within 15 s (east gateway ${lifetimes.eastGateway} s, billing ${lifetimes.billing} s)`, { field: 'ttlSeconds' });
}
