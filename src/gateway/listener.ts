import https from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AuditLog } from '../audit/chain-file.ts';
import type { GatewayConfig } from './config.ts';
import { guardMutualTls, mutualTlsServerOptions, type TlsIdentity } from './tls-identity.ts';
import { peerSerial, type RevocationList } from './revocations.ts';
import { peerAuthorityKeyId, type TrustState } from './trust-state.ts';

/**
 * One of the gateway's two listeners: TLS 1.3, a verified client SVID
 * required, keep-alive and request deadlines from the config, and every
 * refused handshake recorded in the audit chain with its reason.
 */
export function createMutualTlsListener(options: {
  name: 'inbound' | 'outbound';
  identity: TlsIdentity;
  limits: GatewayConfig['limits'];
  audit: AuditLog;
  revocations: RevocationList;
  trust: TrustState;
  handle: (req: IncomingMessage, res: ServerResponse) => Promise<void>;
}): https.Server {
  const server = https.createServer(
    {
      ...mutualTlsServerOptions(options.identity),
      keepAliveTimeout: options.limits.keepAliveTimeoutMs,
      requestTimeout: options.limits.requestTimeoutMs,
    },
    (req, res) => void options.handle(req, res),
  );
  guardMutualTls(
    server,
    (reason, socket) => {
      options.audit.append({
        type: 'connection.rejected',
        actor: 'unauthenticated',
        data: { listener: options.name, remoteAddress: socket.remoteAddress ?? '', reason },
      });
    },
    (socket) => {
      const serial = peerSerial(socket);
      if (!serial) return 'NO_PEER_CERTIFICATE';
      if (options.revocations.has(serial)) return `IL_ERR_SVID_REVOKED: serial ${serial}`;
      const signer = peerAuthorityKeyId(socket);
      const refusal = options.trust.refusal(signer);
      if (refusal) return refusal;
      options.revocations.track(socket, serial);
      if (signer) options.trust.track(socket, signer);
      return undefined;
    },
  );
  return server;
}
