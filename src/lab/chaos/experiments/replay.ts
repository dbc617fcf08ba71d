import { join } from 'node:path';
import { readFileSync, writeFileSync } from 'node:fs';
import { runCommand } from '../../netns.ts';
import { parsePcap, reassembleTcp, startWireCapture } from '../../wire-capture.ts';
import { HUB_BRIDGE } from '../../netns.ts';
import { redirectRules } from '../../faults.ts';
import { startMallory } from '../mallory-process.ts';
import { successesAfter, waitFor } from '../load.ts';
import type { ChaosExperiment } from '../types.ts';
import { checkServedOnlyLoad, clusterNet, foreignDecisions, INBOUND_PORT } from './common.ts';

const TLS_HANDSHAKE = 0x16;

export const replay: ChaosExperiment = {
  name: 'replay',
  title: 'Captured request replayed',
  hypothesis: "Bytes captured off the wire — a whole east→west connection, handshake and requests — sent again to west's gateway from another host get nothing: the TLS 1.3 handshake cannot complete without east's key (fresh server randoms), so no request is decoded, decided or served.",
  fault: "one east→west connection captured on the wan, then replayed verbatim to west's inbound listener by mallory",
  recoveryBudgetMs: 5_000,
  lab: 'shared',
  run: async (ctx) => {
    const east = clusterNet(ctx, 'east');
    const west = clusterNet(ctx, 'west');
    const startedAt = ctx.load.now();
    // Record a connection from its first byte: reset east's open peer connections so the next call opens one.
    const capture = await startWireCapture({ prefix: ctx.network.hub.exec, iface: HUB_BRIDGE, file: join(ctx.workDir, 'recorded.pcap') });
    const reset = redirectRules({ host: west.wanHost, port: INBOUND_PORT }, { host: west.wanHost, port: INBOUND_PORT }).filter[0]!;
    runCommand([...east.exec, 'iptables', '-w', '-A', ...reset]);
    await ctx.sleep(300);
    runCommand([...east.exec, 'iptables', '-w', '-D', ...reset]);
    const resetAt = ctx.load.now();
    await waitFor(() => successesAfter(ctx.load.records, resetAt).length >= 3, 10_000);
    await capture.stop();
    const flows = [...reassembleTcp(parsePcap(readFileSync(capture.file)))].filter(([flow, data]) => flow.startsWith(`${east.wanHost}:`) && flow.endsWith(`→ ${west.wanHost}:${INBOUND_PORT}`) && data[0] === TLS_HANDSHAKE);
    const recorded = flows.sort(([, a], [, b]) => b.length - a.length)[0];
    ctx.check('a whole connection was captured', recorded !== undefined, recorded ? `${recorded[0]}: ${recorded[1].length} bytes from the ClientHello on` : 'no east→west connection starting with a handshake in the capture');
    if (!recorded) return { startedAt, clearedAt: ctx.load.now() };
    const bytesFile = join(ctx.workDir, 'replay.bin');
    writeFileSync(bytesFile, recorded[1]);
    const westAudit = ctx.world.clusters.get('west')!.gateway.auditPath;
    const readWestAudit = () => readFileSync(westAudit, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as { type: string; data: Record<string, unknown> });
    const before = readWestAudit().length;
    const mallory = await startMallory(ctx.network, 'replay', { report: join(ctx.workDir, 'mallory.json'), target: { host: west.wanHost, port: INBOUND_PORT }, bytesFile });
    await ctx.sleep(2_000);
    const report = mallory.report();
    await mallory.stop();
    const clearedAt = ctx.load.now();
    ctx.note(`mallory sent ${String(report.sentBytes)} bytes, received ${String(report.receivedBytes)}${report.alert ? ' (a TLS alert)' : ''}${report.error ? `, ${String(report.error)}` : ''}`);
    const foreign = foreignDecisions(readWestAudit().slice(before), ctx.load.records);
    ctx.check('the replay was not decided or served', foreign === 0, `${foreign} allow decisions in west's audit that the load did not cause`);
    ctx.check('west closed the replayed connection', report.connections === 1 && report.closed === true, `mallory connected ${String(report.connections)} time(s); ${String(report.receivedBytes)} bytes back, connection ${report.closed ? 'closed by west' : 'still open'}`);
    checkServedOnlyLoad(ctx, ctx.served);
    return { startedAt, clearedAt };
  },
};
