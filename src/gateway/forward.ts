import http from 'node:http';
import https from 'node:https';
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import { InterlockError, type ErrorCode } from '../errors.ts';
import { sendError, forwardableHeaders } from './http-util.ts';

export interface ForwardTarget {
  readonly protocol: 'http:' | 'https:';
  readonly host: string;
  readonly port: number;
  readonly agent: http.Agent;
  /** Headers set by the gateway on top of the caller's forwardable ones. */
  readonly headers: OutgoingHttpHeaders;
  readonly timeoutMs: number;
  /** Error code when the next hop cannot be reached. */
  readonly unavailableCode: ErrorCode;
  readonly extraTlsOptions?: https.RequestOptions;
  /** Keep interlock-* headers of the answer: true only when the next hop is a verified peer gateway. */
  readonly trustAnswerHeaders?: boolean;
  /** Request bodies beyond this are cut off and refused with 413 (IL_ERR_BODY_TOO_LARGE). */
  readonly maxBodyBytes: number;
  /** The body, already read whole (a signed request whose digest was checked); else the request is streamed. */
  readonly body?: Buffer;
  /**
   * Headers that depend on the connection the pool hands out (the identity
   * assertion is bound to it): set once that TLS connection is up, before
   * anything is written.
   */
  readonly connectionHeaders?: (socket: TLSSocket) => OutgoingHttpHeaders;
  /** Set on the one retry of a request whose kept-alive connection the next hop had just closed. */
  readonly retried?: boolean;
}

/** Methods a proxy may send again (RFC 9110 §9.2.2), when no body has to be replayed. */
const RETRYABLE = new Set(['GET', 'HEAD', 'OPTIONS']);

/** Reads a request body whole, refusing it past `max` bytes (for signed requests, whose digest covers all of it). */
export function readBody(req: IncomingMessage, max: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > max) {
        req.destroy();
        reject(new InterlockError('IL_ERR_BODY_TOO_LARGE', `a signed request body may be at most ${max} bytes`, { field: 'body' }));
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/** Refuses up front a request whose Content-Length is beyond the limit. */
export function checkDeclaredBodySize(req: IncomingMessage, maxBodyBytes: number): void {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > maxBodyBytes) throw new InterlockError('IL_ERR_BODY_TOO_LARGE', `the request body is ${declared} bytes; the limit is ${maxBodyBytes}`, { field: 'content-length' });
}

/**
 * Streams a request to the next hop and its answer back, without buffering
 * either body: bodies of any size flow through with constant memory, and
 * backpressure is kept by pipe().
 */
/**
 * `outcome` is 'ok' once the next hop answered (whatever its status) and
 * 'failed' if it could not be reached or timed out; the byte counts are the
 * bodies that crossed (for the audit record of the call).
 */
export interface ForwardResult {
  /** 'refused': the request broke a limit on the way (body too large); the next hop is not at fault. */
  readonly outcome: 'ok' | 'failed' | 'refused';
  readonly status: number | null;
  readonly requestBytes: number;
  readonly responseBytes: number;
}

export function forwardRequest(req: IncomingMessage, res: ServerResponse, target: ForwardTarget): Promise<ForwardResult> {
  return new Promise((resolve) => {
    const transport = target.protocol === 'https:' ? https : http;
    let settled = false;
    let status: number | null = null;
    let requestBytes = 0;
    let responseBytes = 0;
    let tooLarge = false;
    if (target.body) requestBytes = target.body.length;
    else req.on('data', (chunk: Buffer) => {
      requestBytes += chunk.length;
      if (requestBytes > target.maxBodyBytes && !tooLarge) {
        tooLarge = true;
        upstream.destroy(new InterlockError('IL_ERR_BODY_TOO_LARGE', `the request body passed the limit of ${target.maxBodyBytes} bytes`, { field: 'body' }));
      }
    });
    const finish = (outcome: ForwardResult['outcome'] = 'ok') => {
      if (!settled) {
        settled = true;
        resolve({ outcome, status, requestBytes, responseBytes });
      }
    };
    const upstream = transport.request(
      {
        host: target.host,
        port: target.port,
        method: req.method,
        path: req.url,
        agent: target.agent,
        headers: { ...forwardableHeaders(req.headers), ...target.headers },
        ...(target.extraTlsOptions ?? {}),
      },
      (answer) => {
        status = answer.statusCode ?? null;
        answer.on('data', (chunk: Buffer) => (responseBytes += chunk.length));
        res.writeHead(answer.statusCode ?? 502, forwardableHeaders(answer.headers, target.trustAnswerHeaders === true));
        answer.pipe(res);
        answer.on('end', finish);
        answer.on('error', () => {
          res.destroy();
          finish();
        });
      },
    );
    upstream.setTimeout(target.timeoutMs, () => {
      upstream.destroy(new InterlockError('IL_ERR_UPSTREAM_TIMEOUT', `no answer from ${target.host}:${target.port} within ${target.timeoutMs} ms`));
    });
    upstream.on('error', (error) => {
      // The keep-alive race (RFC 9112 §9.3.1): the next hop closed a pooled connection just as this request went
      // out on it. Nothing reached it, so an idempotent request without a body is sent once more, on a new connection.
      const code = (error as NodeJS.ErrnoException).code;
      if (!settled && !target.retried && upstream.reusedSocket && (code === 'ECONNRESET' || code === 'EPIPE') && status === null && requestBytes === 0 && !target.body && RETRYABLE.has(req.method ?? '')) {
        settled = true;
        resolve(forwardRequest(req, res, { ...target, retried: true }));
        return;
      }
      const failure =
        error instanceof InterlockError
          ? error
          : new InterlockError(target.unavailableCode, `${target.host}:${target.port} unreachable: ${(error as NodeJS.ErrnoException).code ?? error.message}`);
      sendError(res, failure);
      finish(tooLarge ? 'refused' : 'failed');
    });
    res.on('close', () => {
      if (!res.writableFinished) upstream.destroy();
      finish();
    });
    const send = () => {
      if (target.body) upstream.end(target.body);
      else if (req.readableEnded) upstream.end(); // a retry: the (empty) body was read already
      else req.pipe(upstream);
    };
    if (!target.connectionHeaders) return send();
    // The byte counter above set the body flowing; hold it until the connection is up and pipe() resumes it.
    req.pause();
    const addHeaders = target.connectionHeaders;
    whenConnected(upstream, (socket) => {
      try {
        for (const [name, value] of Object.entries(addHeaders(socket))) if (value !== undefined) upstream.setHeader(name, value);
      } catch (error) {
        upstream.destroy(error as Error);
        return;
      }
      send();
    });
  });
}

/**
 * Runs `ready` once the request has its TLS connection and the handshake is
 * done (at once for a pooled connection), before anything is written: the
 * place to set headers bound to that connection.
 */
export function whenConnected(request: http.ClientRequest, ready: (socket: TLSSocket) => void): void {
  request.once('socket', (socket) => {
    const tlsSocket = socket as TLSSocket;
    const go = () => {
      if (!request.destroyed) ready(tlsSocket);
    };
    // getFinished() is set once this side sent its Finished message: for a client, the handshake is done.
    if (tlsSocket.getFinished?.() !== undefined) go();
    else tlsSocket.once('secureConnect', go);
  });
}
