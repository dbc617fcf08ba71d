import { createPrivateKey, randomBytes } from 'node:crypto';
import { contentDigest, signMessage, REQUIRED_COMPONENTS } from '../signatures/message-signature.ts';

/**
 * Signs a request for a critical route (RFC 9421 with RFC 9530's
 * Content-Digest) with the workload's SVID key: the headers to add. The
 * body must be sent exactly as given; `extraComponents` adds covered
 * headers (e.g. content-type) that must then be sent unchanged too.
 */
export function signRequest(request: {
  method: string;
  /** `<service>.<cluster>.interlock` */
  authority: string;
  path: string;
  body?: Uint8Array;
  headers?: Record<string, string>;
  extraComponents?: string[];
  keyPem: string;
  spiffeId: string;
  now?: Date;
}): Record<string, string> {
  const digest = contentDigest(request.body ?? new Uint8Array());
  const headers: Record<string, string> = { ...(request.headers ?? {}), 'content-digest': digest };
  const signed = signMessage(
    { method: request.method, authority: request.authority, path: request.path, headers },
    {
      components: [...REQUIRED_COMPONENTS, ...(request.extraComponents ?? [])],
      created: Math.floor((request.now ?? new Date()).getTime() / 1000),
      nonce: randomBytes(16).toString('base64url'),
      keyid: request.spiffeId,
    },
    createPrivateKey(request.keyPem),
  );
  return { 'content-digest': digest, ...signed };
}
