import type { TLSSocket } from 'node:tls';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { InterlockError } from '../errors.ts';
import { checkSvidLeaf } from '../pki/verify.ts';
import { x509 } from '../pki/x509.ts';
import type { SpiffeId } from '../identity/spiffe-id.ts';
import type { AdminRole, AdminRow, Store } from '../store/types.ts';
import { hashSecret } from './secrets.ts';

/**
 * Who is calling, decided once per request in an onRequest hook, and what
 * each route requires, enforced in a preHandler hook: handlers never check
 * credentials themselves (DESIGN.md style rule 6).
 *
 *   public     anyone (attestation, bundle, health)
 *   svid       a verified X.509-SVID from this control plane's CA (mTLS)
 *   roles      an admin bearer token whose admin holds one of the roles
 */
export type RouteAuth = { kind: 'public' } | { kind: 'svid' } | { kind: 'roles'; roles: readonly AdminRole[] };

export interface Caller {
  readonly svid?: SpiffeId & { serial: string };
  readonly admin?: AdminRow;
}

declare module 'fastify' {
  interface FastifyRequest {
    caller: Caller;
  }
  interface FastifyContextConfig {
    auth?: RouteAuth;
  }
}

export const PUBLIC: RouteAuth = { kind: 'public' };
export const SVID: RouteAuth = { kind: 'svid' };
export function roles(...allowed: AdminRole[]): RouteAuth {
  return { kind: 'roles', roles: allowed };
}

function svidOf(request: FastifyRequest): Caller['svid'] {
  const socket = request.raw.socket as TLSSocket;
  if (!socket.authorized) return undefined;
  const raw = socket.getPeerCertificate()?.raw;
  if (!raw) return undefined;
  try {
    const cert = new x509.X509Certificate(new Uint8Array(raw));
    return { ...checkSvidLeaf(cert), serial: cert.serialNumber };
  } catch {
    return undefined;
  }
}

async function adminOf(store: Store, request: FastifyRequest): Promise<AdminRow | undefined> {
  const header = request.headers.authorization;
  if (!header) return undefined;
  const match = /^Bearer\s+(\S+)$/i.exec(header);
  if (!match) throw new InterlockError('IL_ERR_AUTHN_REQUIRED', 'Authorization header must be "Bearer <token>"', { field: 'authorization' });
  const admin = await store.getAdminByTokenHash(hashSecret(match[1]!));
  if (!admin || admin.disabled) throw new InterlockError('IL_ERR_AUTHN_REQUIRED', 'admin token not recognised', { field: 'authorization' });
  return admin;
}

export function installAuth(app: FastifyInstance, store: Store): void {
  app.decorateRequest('caller', null as unknown as Caller);
  app.addHook('onRequest', async (request) => {
    const svid = svidOf(request);
    // Set before the token is checked: a request refused for a bad token is still audited with who sent it.
    request.caller = svid ? { svid } : {};
    const admin = await adminOf(store, request);
    if (admin) request.caller = { ...request.caller, admin };
  });
  app.addHook('preHandler', async (request) => {
    if (request.is404) return; // no route: the not-found handler answers, with nothing to protect
    const auth = request.routeOptions.config.auth ?? { kind: 'roles', roles: [] };
    if (auth.kind === 'public') return;
    if (auth.kind === 'svid') {
      const svid = request.caller.svid;
      if (!svid) {
        throw new InterlockError('IL_ERR_AUTHN_REQUIRED', 'this endpoint needs a client X.509-SVID (mTLS)', { field: 'clientCertificate' });
      }
      // The TLS stack cannot know about revocations: a revoked SVID is refused here (it may still attest again).
      const row = await store.getSvid(svid.serial);
      if (row?.revokedAt) throw new InterlockError('IL_ERR_SVID_REVOKED', `SVID ${svid.serial} was revoked at ${row.revokedAt}`, { field: 'clientCertificate' });
      return;
    }
    const admin = request.caller.admin;
    if (!admin) throw new InterlockError('IL_ERR_AUTHN_REQUIRED', 'this endpoint needs an admin token', { field: 'authorization' });
    if (!auth.roles.some((role) => admin.roles.includes(role))) {
      throw new InterlockError('IL_ERR_ROLE_FORBIDDEN', `${admin.name} has roles [${admin.roles.join(', ')}]; this needs one of [${auth.roles.join(', ')}]`, {
        field: 'authorization',
      });
    }
  });
}

/** The actor recorded in audit records for this request. */
export function actorOf(request: FastifyRequest): string {
  return request.caller?.admin ? `admin:${request.caller.admin.name}` : (request.caller?.svid?.id ?? `anonymous@${request.ip}`);
}
