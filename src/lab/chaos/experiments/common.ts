import { randomBytes } from 'node:crypto';
import type { ApiConnection } from '../../../client/api.ts';
import type { ClusterNetwork } from '../../netns.ts';
import type { LabWorld } from '../../world.ts';
import type { LoadRecord } from '../load.ts';
import { join } from 'node:path';
import { redirectConnections } from '../../faults.ts';
import { startMallory } from '../mallory-process.ts';
import type { ExperimentContext } from '../types.ts';

/** The chaos lab's port for peer gateways (world.ts NETNS_INBOUND_PORT). */
export const INBOUND_PORT = 8443;
/** Where mallory listens when connections are redirected to it. */
export const MALLORY_PORT = 9443;

export function clusterNet(ctx: ExperimentContext, name: string): ClusterNetwork {
  return ctx.network.clusters.get(name)!;
}

const custodians = new WeakMap<LabWorld, ApiConnection>();

/** An admin with the key-custodian role (revocation, rotation, incidents), made once per lab. */
export async function custodian(world: LabWorld): Promise<ApiConnection> {
  let connection = custodians.get(world);
  if (!connection) {
    const { token } = await world.controlPlane.call<{ token: string }>('POST', '/v1/admins', { name: `chaos-${randomBytes(3).toString('hex')}`, roles: ['key-custodian'] });
    connection = { ...world.controlPlane.admin, token };
    custodians.set(world, connection);
  }
  return connection;
}

export const allowedBetween = (records: readonly LoadRecord[], from: number, to: number) => records.filter((r) => r.kind === 'allowed' && r.at >= from && r.at + r.ms <= to);

export const codesOf = (records: readonly LoadRecord[]) => [...new Set(records.map((r) => r.errorCode ?? String(r.status)))].join(', ') || 'none';

/** Every request the service served was one the load generator sent: nothing injected, replayed or altered got through. */
export function checkServedOnlyLoad(ctx: ExperimentContext, served: ReadonlyArray<{ path: string }>): void {
  // Started, not finished: a request the service already served may still be on its way back to the client.
  const foreign = served.filter((s) => !ctx.load.sentPaths.has(s.path)).map((s) => s.path);
  ctx.check('the service saw only requests the load sent', foreign.length === 0, foreign.length ? `unexpected: ${foreign.slice(0, 5).join(', ')}` : `${served.length} requests served, all sent by the load generator`);
}

/** Policy decisions in a gateway's audit whose trace id the load generator never used (a request from someone else). */
export function foreignDecisions(auditLines: ReadonlyArray<{ type: string; data: Record<string, unknown> }>, records: readonly LoadRecord[]): number {
  const traces = new Set(records.map((r) => r.traceId));
  return auditLines.filter((l) => l.type === 'policy.decision' && l.data.decision === 'allow' && !traces.has(String(l.data.traceId))).length;
}

/**
 * Diverts east's connections to west's gateway to mallory (DNAT) for `faultMs`, then heals;
 * returns the fault window, how it was injected, and what mallory reports it saw.
 */
export async function divertEastToMallory(ctx: ExperimentContext, mode: 'mitm' | 'tamper', faultMs: number, relayToWest: boolean) {
  const west = clusterNet(ctx, 'west');
  const mallory = await startMallory(ctx.network, mode, {
    report: join(ctx.workDir, 'mallory.json'),
    listen: { host: ctx.network.mallory.wanHost, port: MALLORY_PORT },
    ...(relayToWest ? { target: { host: west.wanHost, port: INBOUND_PORT } } : {}),
  });
  const startedAt = ctx.load.now();
  const fault = redirectConnections(clusterNet(ctx, 'east').exec, { host: west.wanHost, port: INBOUND_PORT }, { host: ctx.network.mallory.wanHost, port: MALLORY_PORT });
  try {
    await ctx.sleep(faultMs);
  } finally {
    await fault.heal();
  }
  const clearedAt = ctx.load.now();
  const report = mallory.report();
  await mallory.stop();
  return { startedAt, clearedAt, mechanism: fault.mechanism, report };
}

