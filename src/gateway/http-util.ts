import type { IncomingHttpHeaders, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { InterlockError } from '../errors.ts';

/** RFC 9110 §7.6.1: connection-specific fields are not forwarded by proxies. */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'te',
  'trailer',
  'upgrade',
  'proxy-authorization',
  'proxy-authenticate',
]);

/** Interlock's own headers: only a gateway sets them, never a caller. */
const INTERLOCK_PREFIX = 'interlock-';

export function forwardableHeaders(headers: IncomingHttpHeaders, keepInterlockHeaders = false): OutgoingHttpHeaders {
  const connectionListed = String(headers.connection ?? '')
    .split(',')
    .map((name) => name.trim().toLowerCase())
    .filter(Boolean);
  const out: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers)) {
    // HTTP/2 pseudo-headers (RFC 9113 §8.3: :method, :path, :authority, :scheme) belong to that hop only.
    if (value === undefined || HOP_BY_HOP.has(name) || connectionListed.includes(name) || name.startsWith(':')) continue;
    if (name.startsWith(INTERLOCK_PREFIX) && !keepInterlockHeaders) continue;
    out[name] = value;
  }
  return out;
}

export const ERROR_CODE_HEADER = 'interlock-error-code';

/** Every refusal is JSON with a stable code, so clients can branch on it. */
export function sendError(res: ServerResponse, error: InterlockError, extraHeaders: OutgoingHttpHeaders = {}): void {
  if (res.headersSent) {
    res.destroy(error);
    return;
  }
  const body = JSON.stringify({ error: error.toJSON() });
  res.writeHead(error.status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
    [ERROR_CODE_HEADER]: error.code,
    ...extraHeaders,
  });
  res.end(body);
}

/** The target authority of a request: Host in HTTP/1.1, :authority in HTTP/2 (RFC 9113 §8.3.1). */
export function requestAuthority(headers: IncomingHttpHeaders): string | undefined {
  return headers.host ?? (headers[':authority'] as string | undefined);
}
