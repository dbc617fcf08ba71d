import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createCanary } from '../../src/lab/canary.ts';
import { parsePcap, reassembleTcp, searchCapture } from '../../src/lab/wire-capture.ts';
import { tempDir } from '../helpers/pki.ts';

/** A classic pcap file (Ethernet) holding IPv4 TCP segments, as dumpcap -P writes it. */
function pcap(segments: ReadonlyArray<{ seq: number; payload: Buffer }>): Buffer {
  const header = Buffer.alloc(24);
  header.writeUInt32LE(0xa1b2c3d4, 0);
  header.writeUInt16LE(2, 4);
  header.writeUInt16LE(4, 6);
  header.writeUInt32LE(65535, 16);
  header.writeUInt32LE(1, 20);
  const records = segments.map(({ seq, payload }) => {
    const eth = Buffer.alloc(14);
    eth.writeUInt16BE(0x0800, 12);
    const ip = Buffer.alloc(20);
    ip[0] = 0x45;
    ip.writeUInt16BE(20 + 20 + payload.length, 2);
    ip[9] = 6;
    Buffer.from([10, 213, 0, 10]).copy(ip, 12);
    Buffer.from([10, 213, 0, 11]).copy(ip, 16);
    const tcp = Buffer.alloc(20);
    tcp.writeUInt16BE(40000, 0);
    tcp.writeUInt16BE(8443, 2);
    tcp.writeUInt32BE(seq, 4);
    tcp[12] = 5 << 4;
    const frame = Buffer.concat([eth, ip, tcp, payload]);
    const record = Buffer.alloc(16);
    record.writeUInt32LE(frame.length, 8);
    record.writeUInt32LE(frame.length, 12);
    return Buffer.concat([record, frame]);
  });
  return Buffer.concat([header, ...records]);
}

test('a marker split across two TCP segments (sent out of order, one retransmitted) is still found', () => {
  const { marker } = createCanary();
  const data = Buffer.from(`POST /x HTTP/1.1\r\nx-lab-payload: ${marker}\r\n\r\n`);
  const cut = data.indexOf(marker) + 5;
  const first = { seq: 4_294_967_000, payload: data.subarray(0, cut) };
  // The second segment's sequence number wraps past 2^32.
  const second = { seq: (4_294_967_000 + cut) >>> 0, payload: data.subarray(cut) };
  const file = join(tempDir('interlock-pcap-'), 'split.pcap');
  writeFileSync(file, pcap([second, first, first]));
  const packets = parsePcap(Buffer.from(pcap([first])));
  assert.equal(packets[0]!.src, '10.213.0.10');
  assert.equal(packets[0]!.dstPort, 8443);
  assert.deepEqual([...reassembleTcp(parsePcap(pcap([second, first])))].map(([, bytes]) => bytes.toString()), [data.toString()]);
  const report = searchCapture(file);
  assert.equal(report.packets, 3);
  assert.equal(report.findings.length, 1);
  assert.equal(report.findings[0]!.marker, marker);
  assert.match(report.findings[0]!.source, /10\.213\.0\.10:40000 → 10\.213\.0\.11:8443/);
});

test('TLS-looking bytes without a marker pass', () => {
  const file = join(tempDir('interlock-pcap-'), 'clean.pcap');
  writeFileSync(file, pcap([{ seq: 1, payload: Buffer.from([0x17, 0x03, 0x03, 0x00, 0x20, ...Array(32).fill(0xab)]) }]));
  assert.deepEqual(searchCapture(file).findings, []);
});
