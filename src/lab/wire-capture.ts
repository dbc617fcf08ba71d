import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { InterlockError } from '../errors.ts';
import { findCanaries, type CanaryFinding } from './canary.ts';

/**
 * Captures what crosses an interface (dumpcap, from the tshark package, as
 * root inside the lab's hub namespace) and searches it for canary markers.
 * TCP payloads are reassembled per direction first, so a marker split
 * across two segments is still found; other IPv4 payloads (UDP) are
 * searched per packet.
 */
export interface WireCapture {
  readonly file: string;
  /** Stops the capture and waits until the file is complete. */
  stop(): Promise<void>;
}

export async function startWireCapture(options: { prefix: readonly string[]; iface: string; file: string; timeoutMs?: number }): Promise<WireCapture> {
  // -P: classic pcap (parsed below), -q: no packet counts on stderr, -B: a kernel buffer that absorbs bursts.
  const argv = [...options.prefix, 'dumpcap', '-i', options.iface, '-P', '-q', '-B', '8', '-w', options.file];
  const child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => fail(`dumpcap did not start within ${options.timeoutMs ?? 10_000} ms`), options.timeoutMs ?? 10_000);
    const fail = (message: string) => {
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(new InterlockError('IL_ERR_LAB_NETNS_FAILED', `${message}: ${stderr.trim()}`, { field: 'capture', hint: 'apt-get install tshark' }));
    };
    child.on('error', (error) => fail(error.message));
    child.stderr!.on('data', (chunk: Buffer) => {
      stderr += chunk.toString('utf8');
      // dumpcap says so once the interface is open.
      if (/Capturing on/.test(stderr)) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code) => fail(`dumpcap exited with code ${code}`));
  });
  return { file: options.file, stop: () => stopProcess(child) };
}

async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGINT');
  await exited;
}

export interface Packet {
  readonly src: string;
  readonly dst: string;
  readonly protocol: 'tcp' | 'udp' | 'other';
  readonly srcPort: number;
  readonly dstPort: number;
  readonly seq: number;
  readonly payload: Buffer;
}

const ipv4 = (b: Buffer, at: number) => `${b[at]}.${b[at + 1]}.${b[at + 2]}.${b[at + 3]}`;

/** Pure: the IPv4 packets of a classic pcap file with Ethernet framing (what dumpcap -P writes for a veth or bridge). */
export function parsePcap(file: Buffer): Packet[] {
  if (file.length < 24) return [];
  const magic = file.readUInt32LE(0);
  const little = magic === 0xa1b2c3d4 || magic === 0xa1b23c4d;
  if (!little && file.readUInt32BE(0) !== 0xa1b2c3d4 && file.readUInt32BE(0) !== 0xa1b23c4d) {
    throw new InterlockError('IL_ERR_LAB_NETNS_FAILED', 'not a pcap file (pcapng? capture with dumpcap -P)', { field: 'capture' });
  }
  const u32 = (at: number) => (little ? file.readUInt32LE(at) : file.readUInt32BE(at));
  const linkType = u32(20);
  const packets: Packet[] = [];
  for (let at = 24; at + 16 <= file.length; ) {
    const captured = u32(at + 8);
    const frame = file.subarray(at + 16, at + 16 + captured);
    at += 16 + captured;
    const l3 = linkType === 1 ? (frame.length >= 14 && frame.readUInt16BE(12) === 0x0800 ? 14 : -1) : linkType === 101 ? 0 : -1;
    if (l3 < 0 || frame.length < l3 + 20 || frame[l3]! >> 4 !== 4) continue;
    const ihl = (frame[l3]! & 0x0f) * 4;
    const total = Math.min(frame.readUInt16BE(l3 + 2), frame.length - l3);
    const proto = frame[l3 + 9];
    const l4 = l3 + ihl;
    const src = ipv4(frame, l3 + 12);
    const dst = ipv4(frame, l3 + 16);
    if (proto === 6 && frame.length >= l4 + 20) {
      const dataOffset = (frame[l4 + 12]! >> 4) * 4;
      packets.push({ src, dst, protocol: 'tcp', srcPort: frame.readUInt16BE(l4), dstPort: frame.readUInt16BE(l4 + 2), seq: frame.readUInt32BE(l4 + 4), payload: frame.subarray(l4 + dataOffset, l3 + total) });
    } else if (proto === 17 && frame.length >= l4 + 8) {
      packets.push({ src, dst, protocol: 'udp', srcPort: frame.readUInt16BE(l4), dstPort: frame.readUInt16BE(l4 + 2), seq: 0, payload: frame.subarray(l4 + 8, l3 + total) });
    } else {
      packets.push({ src, dst, protocol: 'other', srcPort: 0, dstPort: 0, seq: 0, payload: frame.subarray(l4, l3 + total) });
    }
  }
  return packets;
}

/** Pure: each TCP direction's bytes in sequence order, retransmissions counted once. */
export function reassembleTcp(packets: readonly Packet[]): Map<string, Buffer> {
  const flows = new Map<string, Map<number, Buffer>>();
  for (const p of packets) {
    if (p.protocol !== 'tcp' || p.payload.length === 0) continue;
    const key = `${p.src}:${p.srcPort} → ${p.dst}:${p.dstPort}`;
    const segments = flows.get(key) ?? new Map<number, Buffer>();
    const known = segments.get(p.seq);
    if (!known || known.length < p.payload.length) segments.set(p.seq, p.payload);
    flows.set(key, segments);
  }
  // Sequence numbers wrap at 2^32: order by signed distance from the first segment seen (which may not be the earliest).
  return new Map(
    [...flows].map(([key, segments]) => {
      const first = segments.keys().next().value!;
      const ordered = [...segments].sort(([a], [b]) => ((a - first) | 0) - ((b - first) | 0)).map(([, data]) => data);
      return [key, Buffer.concat(ordered)];
    }),
  );
}

export interface WireReport {
  readonly packets: number;
  readonly bytes: number;
  readonly tcpFlows: number;
  readonly findings: CanaryFinding[];
}

/** Reads a capture and reports every canary marker in its reassembled TCP streams and other packets. */
export function searchCapture(file: string): WireReport {
  const packets = parsePcap(readFileSync(file));
  const flows = reassembleTcp(packets);
  const findings = [
    ...[...flows].flatMap(([flow, data]) => findCanaries(`wire ${flow}`, data)),
    ...packets.filter((p) => p.protocol !== 'tcp').flatMap((p) => findCanaries(`wire ${p.protocol} ${p.src}:${p.srcPort} → ${p.dst}:${p.dstPort}`, p.payload)),
  ];
  return { packets: packets.length, bytes: packets.reduce((sum, p) => sum + p.payload.length, 0), tcpFlows: flows.size, findings };
}
