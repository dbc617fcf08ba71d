/**
 * Mallory: an attacker on the lab's wan, run as its own process inside the
 * lab's attacker namespace (`ip netns exec il-<run>-mallory node --import
 * tsx mallory.ts <mode> <json options>`). It prints "mallory ready" once
 * listening and keeps its findings in a JSON report file.
 *
 *   mitm    a TLS 1.3 server with a certificate from a foreign CA, where the
 *           gateway's peer connections are redirected; records any
 *           plaintext a client would hand it
 *   tamper  a TCP relay to the real peer that flips one byte in every TLS
 *           application-data record the client sends after the handshake
 *   replay  opens one connection to the target, sends captured bytes
 *           verbatim, records what comes back
 */
import net from 'node:net';
import tls from 'node:tls';
import { readFileSync, writeFileSync } from 'node:fs';
import { foreignCredentials } from '../attackers.ts';
import { findCanaries } from '../canary.ts';

interface Options {
  readonly report: string;
  readonly listen?: { host: string; port: number };
  readonly target?: { host: string; port: number };
  readonly bytesFile?: string;
}

const [mode, json] = process.argv.slice(2);
const options = JSON.parse(json ?? '{}') as Options;
const report: Record<string, unknown> & { connections: number } = { mode, connections: 0 };
const save = () => writeFileSync(options.report, JSON.stringify(report, null, 2));
save();

const TLS_APPLICATION_DATA = 0x17;

/** Splits a byte stream into TLS records (RFC 8446 §5.1: type, version, 2-byte length) as they complete. */
function recordSplitter(onRecord: (record: Buffer) => void): (chunk: Buffer) => void {
  let pending = Buffer.alloc(0);
  return (chunk) => {
    pending = Buffer.concat([pending, chunk]);
    while (pending.length >= 5 && pending.length >= 5 + pending.readUInt16BE(3)) {
      const length = 5 + pending.readUInt16BE(3);
      onRecord(pending.subarray(0, length));
      pending = pending.subarray(length);
    }
  };
}

async function mitm(): Promise<void> {
  const credentials = await foreignCredentials();
  report.plaintextBytes = 0;
  report.handshakesCompleted = 0;
  report.findings = [];
  const server = tls.createServer({ cert: credentials.certPem, key: credentials.keyPem, minVersion: 'TLSv1.3', requestCert: true, rejectUnauthorized: false }, (socket) => {
    report.handshakesCompleted = Number(report.handshakesCompleted) + 1;
    save();
    socket.on('data', (chunk: Buffer) => {
      report.plaintextBytes = Number(report.plaintextBytes) + chunk.length;
      (report.findings as unknown[]).push(...findCanaries('mallory mitm plaintext', chunk));
      save();
    });
    socket.on('error', () => undefined);
  });
  server.on('connection', () => {
    report.connections++;
    save();
  });
  server.on('tlsClientError', (error) => {
    report.lastTlsError = error.message;
    save();
  });
  server.listen(options.listen!.port, options.listen!.host, () => console.log('mallory ready'));
}

function tamper(): void {
  report.tamperedRecords = 0;
  const server = net.createServer((client) => {
    report.connections++;
    save();
    const upstream = net.connect(options.target!.port, options.target!.host);
    // Past the handshake once the client has sent its encrypted flight and the server has answered after it.
    let clientEncrypted = 0;
    let serverEncryptedAfterClient = 0;
    client.on(
      'data',
      recordSplitter((record) => {
        if (record[0] === TLS_APPLICATION_DATA) {
          if (serverEncryptedAfterClient > 0 && record.length > 5 + 17) {
            const copy = Buffer.from(record);
            copy[5 + Math.floor((copy.length - 5) / 2)]! ^= 0x01;
            report.tamperedRecords = Number(report.tamperedRecords) + 1;
            save();
            upstream.write(copy);
            return;
          }
          clientEncrypted++;
        }
        upstream.write(record);
      }),
    );
    upstream.on(
      'data',
      recordSplitter((record) => {
        if (record[0] === TLS_APPLICATION_DATA && clientEncrypted > 0) serverEncryptedAfterClient++;
        client.write(record);
      }),
    );
    const close = () => (client.destroy(), upstream.destroy());
    client.on('error', close).on('close', close);
    upstream.on('error', close).on('close', close);
  });
  server.listen(options.listen!.port, options.listen!.host, () => console.log('mallory ready'));
}

function replay(): void {
  const bytes = readFileSync(options.bytesFile!);
  report.sentBytes = bytes.length;
  report.receivedBytes = 0;
  const socket = net.connect(options.target!.port, options.target!.host, () => {
    report.connections++;
    socket.write(bytes);
    save();
  });
  socket.on('data', (chunk: Buffer) => {
    report.receivedBytes = Number(report.receivedBytes) + chunk.length;
    // A TLS alert record (type 21) is the server refusing the replayed handshake.
    if (chunk[0] === 21) report.alert = true;
    save();
  });
  socket.on('error', (error) => {
    report.error = error.message;
    save();
  });
  socket.on('close', () => {
    report.closed = true;
    save();
  });
  console.log('mallory ready');
}

if (mode === 'mitm') await mitm();
else if (mode === 'tamper') tamper();
else if (mode === 'replay') replay();
else {
  console.error(`mallory: unknown mode ${mode}`);
  process.exit(2);
}
process.on('SIGTERM', () => {
  save();
  process.exit(0);
});
