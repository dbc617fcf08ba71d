import type { StoreOps, SvidRow } from '../store/types.ts';

/**
 * Revokes SVIDs inside the caller's transaction: the revocation, its audit
 * record and the `svid.revoked` event that gateways act on commit together.
 * Already revoked SVIDs are left as they were (the first revocation stands).
 */
export async function revokeSvids(tx: StoreOps, svids: readonly SvidRow[], reason: string, actor: string, at: string): Promise<string[]> {
  const revoked: string[] = [];
  for (const svid of svids) {
    if (!(await tx.revokeSvid(svid.serial, at, reason))) continue;
    await tx.appendAudit({ type: 'svid.revoked', actor, data: { serial: svid.serial, spiffeId: svid.spiffeId, cluster: svid.cluster, reason } }, at);
    await tx.appendEvent('svid.revoked', { serial: svid.serial, spiffeId: svid.spiffeId, cluster: svid.cluster, notAfter: svid.notAfter }, at);
    revoked.push(svid.serial);
  }
  return revoked;
}
