/**
 * One POST on a fresh TLS 1.3 connection, closed afterwards: what each of
 * many workloads does when it attests or renews once. src/client/api.ts's
 * apiRequest goes through Node's global keep-alive agent instead, which
 * would pool one idle socket per client certificate (10,000 renewals →
 * 10,000 idle sockets in this process); the TLS options and the server
 * check (expectServerId) are the same.
 */
import https from 'node:https';
import { expectServerId } from '../../src/gateway/tls-identity.ts';

export interface Target {
  readonly server: string;
  readonly bundlePem: string;
  readonly serverId: string;
}

export interface IssuedSvid {
  readonly spiffeId: string;
  readonly serial: string;
  readonly certChainPem: string;
}

export function postFresh<T>(target: Target, path: string, body: unknown, client?: { certPem: string; keyPem: string }): Promise<T> {
  const payload = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const request = https.request(
      new URL(path, target.server),
      {
        method: 'POST',
        agent: false,
        ca: target.bundlePem,
        minVersion: 'TLSv1.3',
        checkServerIdentity: expectServerId(target.serverId),
        ...(client ? { cert: client.certPem, key: client.keyPem } : {}),
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload), connection: 'close' },
        timeout: 60_000,
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          const status = response.statusCode ?? 0;
          if (status >= 200 && status < 300) return resolve(JSON.parse(text) as T);
          reject(new Error(`HTTP ${status} from ${path}: ${text.slice(0, 200)}`));
        });
      },
    );
    request.on('timeout', () => request.destroy(new Error(`no answer to ${path} within 60 s`)));
    request.on('error', reject);
    request.end(payload);
  });
}
