import https from 'node:https';
import { Readable } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import { whenConnected } from '../gateway/forward.ts';
import { expectServerId } from '../gateway/tls-identity.ts';
import { ERROR_CODE_HEADER } from '../gateway/http-util.ts';
import { AUDIT_REF_HEADER } from '../gateway/inbound.ts';

export interface CallResult {
  readonly status: number;
  readonly errorCode?: string;
  readonly auditRef?: string;
  readonly body: string;
  /** True when the request went over a kept-alive connection. */
  readonly reusedConnection: boolean;
  readonly ms: number;
}

export interface CallRequest {
  readonly method: string;
  /** `<service>.<cluster>.interlock` */
  readonly host: string;
  readonly path: string;
  /** Streamed to the gateway in chunks, to exercise streaming bodies. */
  readonly bodyChunks?: readonly string[];
  readonly headers?: Record<string, string>;
  /** Headers bound to the TLS connection the request goes out on (a peer gateway's identity assertion), set once it is up. */
  readonly connectionHeaders?: (socket: TLSSocket) => Record<string, string>;
}

/** A workload's view of the mesh: mTLS to its own gateway's outbound port, which must prove its SPIFFE ID. */
export function createWorkloadAgent(identity: { certPem: string; keyPem: string; bundlePem: string }, gatewayId: string): https.Agent {
  return new https.Agent({
    keepAlive: true,
    // Makes the agent honour the gateway's Keep-Alive hint and retire idle connections before the gateway closes them.
    timeout: 60_000,
    maxSockets: 1,
    cert: identity.certPem,
    key: identity.keyPem,
    ca: identity.bundlePem,
    minVersion: 'TLSv1.3',
    checkServerIdentity: expectServerId(gatewayId),
  });
}

export function callThroughGateway(agent: https.Agent, gateway: { host: string; port: number }, request: CallRequest): Promise<CallResult> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const req = https.request(
      {
        host: gateway.host,
        port: gateway.port,
        method: request.method,
        path: request.path,
        agent,
        headers: { host: request.host, ...(request.headers ?? {}) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          const code = res.headers[ERROR_CODE_HEADER];
          const ref = res.headers[AUDIT_REF_HEADER];
          resolve({
            status: res.statusCode ?? 0,
            ...(typeof code === 'string' ? { errorCode: code } : {}),
            ...(typeof ref === 'string' ? { auditRef: ref } : {}),
            body: Buffer.concat(chunks).toString('utf8'),
            reusedConnection: req.reusedSocket,
            ms: performance.now() - started,
          });
        });
      },
    );
    req.on('error', reject);
    const send = () => {
      if (request.bodyChunks) Readable.from(request.bodyChunks).pipe(req);
      else req.end();
    };
    const bound = request.connectionHeaders;
    if (!bound) return send();
    whenConnected(req, (socket) => {
      for (const [name, value] of Object.entries(bound(socket))) if (value !== undefined) req.setHeader(name, value);
      send();
    });
  });
}
