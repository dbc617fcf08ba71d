/**
 * The one backend every path reaches: an mTLS 1.3 server with the billing
 * service's SVID, on the port the west gateway forwards billing to (run.ts
 * stops the lab's sample service first). It accepts any client whose chain
 * the bundle verifies, so nginx and HAProxy can call it with workload SVIDs.
 *
 *   GET /small        a 100-byte body
 *   GET /bulk?mib=N   N MiB streamed in 1 MiB writes, honouring backpressure
 *
 * Forked by run.ts with argv: cert key ca port.
 */
import https from 'node:https';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';

const [certFile, keyFile, caFile, portText] = process.argv.slice(2);
const SMALL = Buffer.from(JSON.stringify({ service: 'billing', invoice: 1, padding: 'x'.repeat(58) }));
const MIB = Buffer.alloc(1 << 20, 0x61);

const server = https.createServer(
  {
    cert: readFileSync(certFile as string),
    key: readFileSync(keyFile as string),
    ca: readFileSync(caFile as string),
    requestCert: true,
    rejectUnauthorized: true,
    minVersion: 'TLSv1.3',
    keepAliveTimeout: 60_000,
  },
  (req, res) => {
    const url = new URL(req.url ?? '/', 'https://backend');
    if (url.pathname !== '/bulk') {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': SMALL.length }).end(SMALL);
      return;
    }
    const total = Math.max(1, Number(url.searchParams.get('mib') ?? '64'));
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': total * MIB.length });
    let sent = 0;
    const pump = () => {
      while (sent < total) {
        sent++;
        if (!res.write(MIB)) {
          res.once('drain', pump);
          return;
        }
      }
      res.end();
    };
    pump();
  },
);

server.listen(Number(portText), '127.0.0.1', () => process.send?.({ port: (server.address() as AddressInfo).port }));
process.on('disconnect', () => server.close(() => process.exit(0)));
