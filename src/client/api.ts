import https from 'node:https';
import { InterlockError, ERRORS, type ErrorCode } from '../errors.ts';
import { expectServerId } from '../gateway/tls-identity.ts';

/**
 * A small HTTPS client for the control plane API, shared by the CLI, the
 * workload SDK and the lab. TLS 1.3 only; the server is verified against the
 * trust bundle, by its SPIFFE ID when one is given, else by host name.
 */
export interface ApiConnection {
  /** https://host:port */
  readonly server: string;
  /** PEM roots to verify the server with. */
  readonly bundlePem: string;
  /** Expected SPIFFE ID of the server, e.g. spiffe://acme.internal/interlock/server. */
  readonly serverId?: string;
  /** Admin bearer token. */
  readonly token?: string;
  /** Client SVID (chain PEM) and key, for mTLS endpoints. */
  readonly certPem?: string;
  readonly keyPem?: string;
  readonly timeoutMs?: number;
}

export interface ApiResponse<T> {
  readonly status: number;
  readonly body: T;
}

function agentOptions(connection: ApiConnection): https.RequestOptions {
  return {
    ca: connection.bundlePem,
    minVersion: 'TLSv1.3',
    ...(connection.certPem && connection.keyPem ? { cert: connection.certPem, key: connection.keyPem } : {}),
    ...(connection.serverId ? { checkServerIdentity: expectServerId(connection.serverId) } : {}),
  };
}

/** Sends one request; a non-2xx answer with an IL_ERR body becomes that InterlockError. */
export function apiRequest<T>(connection: ApiConnection, method: string, path: string, body?: unknown): Promise<ApiResponse<T>> {
  const url = new URL(path, connection.server);
  const payload = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const request = https.request(
      url,
      {
        method,
        ...agentOptions(connection),
        headers: {
          accept: 'application/json',
          ...(payload ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } : {}),
          ...(connection.token ? { authorization: `Bearer ${connection.token}` } : {}),
        },
        timeout: connection.timeoutMs ?? 15_000,
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let parsed: unknown = text;
          if ((response.headers['content-type'] ?? '').includes('json') && text) {
            try {
              parsed = JSON.parse(text);
            } catch {
              parsed = text;
            }
          }
          const status = response.statusCode ?? 0;
          if (status >= 200 && status < 300) return resolve({ status, body: parsed as T });
          const error = (parsed as { error?: { code?: string; message?: string; field?: string; hint?: string } })?.error;
          const code = error?.code && error.code in ERRORS ? (error.code as ErrorCode) : 'IL_ERR_INTERNAL';
          reject(new InterlockError(code, error?.message ?? `HTTP ${status} from ${method} ${url.pathname}`, { ...(error?.field ? { field: error.field } : {}), ...(error?.hint ? { hint: error.hint } : {}) }));
        });
      },
    );
    request.on('timeout', () => request.destroy(new Error(`no answer from ${connection.server} within ${connection.timeoutMs ?? 15_000} ms`)));
    request.on('error', (error: NodeJS.ErrnoException) => {
      reject(new InterlockError('IL_ERR_PEER_UNAVAILABLE', `cannot reach the control plane at ${connection.server}: ${error.code ?? error.message}`, { field: '--server' }));
    });
    if (payload) request.write(payload);
    request.end();
  });
}
