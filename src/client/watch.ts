import https from 'node:https';
import { expectServerId } from '../gateway/tls-identity.ts';

/**
 * A client for the control plane's watch stream (Server-Sent Events, WHATWG
 * HTML §9.2) that never gives up: on any end or error it reconnects with
 * backoff (0.5 s doubling to 30 s) and resumes with Last-Event-ID, reading
 * the SVID afresh each time so renewed certificates are used.
 */
export interface WatchEvent {
  readonly id: number;
  readonly type: string;
  readonly data: Record<string, unknown>;
}

export interface WatchOptions {
  readonly server: string;
  readonly serverId?: string;
  readonly credentials: () => { certPem: string; keyPem: string; bundlePem: string };
  readonly onEvent: (event: WatchEvent) => void;
  /** Called on every (re)connection and disconnection. */
  readonly onConnection?: (connected: boolean) => void;
}

export function watchControlPlane(options: WatchOptions): { close(): void } {
  let closed = false;
  let lastId: number | undefined;
  let backoffMs = 500;
  let request: ReturnType<typeof https.request> | undefined;
  let timer: NodeJS.Timeout | undefined;

  const reconnect = () => {
    options.onConnection?.(false);
    if (closed) return;
    timer = setTimeout(connect, backoffMs);
    timer.unref();
    backoffMs = Math.min(30_000, backoffMs * 2);
  };

  const connect = () => {
    if (closed) return;
    const { certPem, keyPem, bundlePem } = options.credentials();
    let settled = false;
    const retry = () => {
      if (settled) return;
      settled = true;
      reconnect();
    };
    request = https.request(new URL('/v1/watch', options.server), {
      cert: certPem,
      key: keyPem,
      ca: bundlePem,
      minVersion: 'TLSv1.3',
      headers: { accept: 'text/event-stream', ...(lastId !== undefined ? { 'last-event-id': String(lastId) } : {}) },
      ...(options.serverId ? { checkServerIdentity: expectServerId(options.serverId) } : {}),
    });
    request.on('response', (response) => {
      if (response.statusCode !== 200) {
        response.resume();
        return retry();
      }
      backoffMs = 500;
      options.onConnection?.(true);
      let buffer = '';
      response.on('data', (chunk: Buffer) => {
        buffer += chunk.toString('utf8');
        for (let end = buffer.indexOf('\n\n'); end !== -1; end = buffer.indexOf('\n\n')) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const fields = new Map<string, string>();
          for (const line of block.split('\n')) {
            if (line.startsWith(':')) continue;
            const colon = line.indexOf(':');
            if (colon > 0) fields.set(line.slice(0, colon), line.slice(colon + 1).replace(/^ /, ''));
          }
          const type = fields.get('event');
          if (!type) continue;
          const id = Number(fields.get('id'));
          if (Number.isInteger(id)) lastId = id;
          let data: Record<string, unknown> = {};
          try {
            data = JSON.parse(fields.get('data') ?? '{}') as Record<string, unknown>;
          } catch {
            /* an unreadable payload still signals that something changed */
          }
          options.onEvent({ id, type, data });
        }
      });
      response.on('end', retry);
      response.on('error', retry);
    });
    request.on('error', retry);
    request.end();
  };

  connect();
  return {
    close: () => {
      closed = true;
      clearTimeout(timer);
      request?.destroy();
    },
  };
}
