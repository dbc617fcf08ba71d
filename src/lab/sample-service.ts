import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { CALLER_HEADER, SOURCE_CLUSTER_HEADER } from '../gateway/inbound.ts';
import { peerSpiffeId, tlsOptions, type TlsIdentity } from '../gateway/tls-identity.ts';

export interface SampleService {
  readonly name: string;
  readonly port: number;
  /** Serves with a renewed SVID from now on; open connections keep theirs. */
  rotate(identity: TlsIdentity): void;
  close(): Promise<void>;
}

/**
 * A service as a cluster would run it: mTLS with its own SVID, accepting
 * connections only from its cluster's gateway. It answers with what it saw,
 * so the demo can show the caller identity that crossed the boundary.
 */
export interface ServedRequest {
  readonly method: string;
  readonly path: string;
  readonly caller: string | null;
}

export function startSampleService(options: {
  name: string;
  cluster: string;
  identity: TlsIdentity;
  gatewayId: string;
  /** Where to listen (default loopback); the netns lab uses the root end of the cluster's lan. */
  host?: string;
  /** Sees every request the service answered 200: chaos experiments check no denied request got here. */
  onRequest?: (request: ServedRequest) => void;
}): Promise<SampleService> {
  const server = https.createServer({ ...tlsOptions(options.identity), requestCert: true, rejectUnauthorized: true }, (req, res) => {
    const peer = peerSpiffeId(req.socket as TLSSocket);
    if (peer.id !== options.gatewayId) {
      res.writeHead(403, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'only the local gateway may call' }));
      return;
    }
    let bytes = 0;
    req.on('data', (chunk: Buffer) => (bytes += chunk.length));
    req.on('end', () => {
      const caller = req.headers[CALLER_HEADER];
      options.onRequest?.({ method: req.method ?? 'GET', path: req.url ?? '/', caller: typeof caller === 'string' ? caller : null });
      const body = JSON.stringify({
        service: options.name,
        cluster: options.cluster,
        caller: req.headers[CALLER_HEADER] ?? null,
        sourceCluster: req.headers[SOURCE_CLUSTER_HEADER] ?? null,
        traceparent: req.headers.traceparent ?? null,
        method: req.method,
        path: req.url,
        bytesReceived: bytes,
      });
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }).end(body);
    });
  });
  return new Promise((resolve) => {
    server.listen(0, options.host ?? '127.0.0.1', () => {
      resolve({
        name: options.name,
        port: (server.address() as AddressInfo).port,
        rotate: (identity) => server.setSecureContext(tlsOptions(identity)),
        close: () =>
          new Promise((done) => {
            server.close(() => done());
            server.closeAllConnections();
          }),
      });
    });
  });
}
