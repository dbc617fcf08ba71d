import type { FastifyInstance } from 'fastify';
import { EC_SIGNING_ALGORITHM, toPem, x509 } from '../../pki/x509.ts';
import { InterlockError } from '../../errors.ts';
import { PUBLIC, SVID, actorOf, roles } from '../auth.ts';
import { revokeSvids } from '../revoke.ts';
import { normalizeSerial } from '../../pki/serial.ts';
import type { ServerDeps } from '../app.ts';
import { CLUSTER_NAME } from './schemas.ts';

const CRL_VALIDITY_MS = 3_600_000;

/**
 * Revocations two ways: a list for gateways (the serials of revoked SVIDs
 * that have not expired yet; after that the expiry itself refuses them),
 * pushed as `svid.revoked` events in between; and a standard X.509 CRL
 * (RFC 5280 §5) per cluster CA for everything else that speaks PKI.
 */
export function registerRevocationRoutes(app: FastifyInstance, deps: ServerDeps): void {
  const { store } = deps;

  app.get('/v1/revocations', { config: { auth: SVID } }, async () => {
    const lastEventId = await store.latestEventId();
    const revoked = await store.listSvids({ revoked: true, validAt: deps.clock.now().toISOString(), limit: 100_000 });
    return { lastEventId, revoked: revoked.map((s) => ({ serial: s.serial, cluster: s.cluster, spiffeId: s.spiffeId, notAfter: s.notAfter, revokedAt: s.revokedAt })) };
  });

  // Revoke every still-valid SVID of a SPIFFE ID or of a whole cluster, in one transaction.
  app.post<{ Body: { spiffeId?: string; cluster?: string; reason: string } }>(
    '/v1/revocations',
    {
      config: { auth: roles('key-custodian') },
      schema: {
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['reason'],
          properties: { spiffeId: { type: 'string', maxLength: 2048 }, cluster: CLUSTER_NAME, reason: { type: 'string', minLength: 1, maxLength: 500 } },
        },
      },
    },
    async (request) => {
      const { spiffeId, cluster, reason } = request.body;
      if (Boolean(spiffeId) === Boolean(cluster)) throw new InterlockError('IL_ERR_REQUEST_INVALID', 'give exactly one of spiffeId or cluster', { field: 'body.spiffeId' });
      const at = deps.clock.now().toISOString();
      const revoked = await store.transaction(async (tx) => {
        if (cluster && !(await tx.getCluster(cluster))) throw new InterlockError('IL_ERR_CLUSTER_UNKNOWN', `no cluster named ${cluster}`, { field: 'cluster' });
        const matching = await tx.listSvids({ ...(spiffeId ? { spiffeId } : { cluster: cluster! }), validAt: at, revoked: false, limit: 1_000_000 });
        return revokeSvids(tx, matching, reason, actorOf(request), at);
      });
      return { revoked, count: revoked.length };
    },
  );

  // One CRL per issuing CA (RFC 5280 §5): the cluster's signing CA by default,
  // or ?ca=<serial> for an older one of the same cluster (its SVIDs may still be valid).
  app.get<{ Params: { cluster: string; format: 'pem' | 'der' }; Querystring: { ca?: string } }>(
    '/v1/crl/:cluster.:format',
    {
      config: { auth: PUBLIC },
      schema: {
        params: { type: 'object', properties: { cluster: CLUSTER_NAME, format: { enum: ['pem', 'der'] } } },
        querystring: { type: 'object', additionalProperties: false, properties: { ca: { type: 'string', pattern: '^[0-9a-fA-F]{1,64}$' } } },
      },
    },
    async (request, reply) => {
      const active = await deps.ca.clusterCa(request.params.cluster);
      let ca = { cert: active.cert, key: active.key };
      if (request.query.ca && normalizeSerial(request.query.ca) !== normalizeSerial(active.cert.serialNumber)) {
        const { row, material } = await deps.ca.authority(request.query.ca.toLowerCase());
        if (row.cluster !== request.params.cluster) throw new InterlockError('IL_ERR_NOT_FOUND', `CA ${request.query.ca} is not a CA of ${request.params.cluster}`, { field: 'ca' });
        ca = material;
      }
      const revoked = (await store.listSvids({ cluster: request.params.cluster, revoked: true, limit: 100_000 })).filter((s) => s.issuerSerial === ca.cert.serialNumber);
      const now = deps.clock.now();
      const crl = await x509.X509CrlGenerator.create({
        issuer: ca.cert.subject,
        thisUpdate: now,
        nextUpdate: new Date(now.getTime() + CRL_VALIDITY_MS),
        signingAlgorithm: EC_SIGNING_ALGORITHM,
        signingKey: ca.key,
        entries: revoked.map((s) => ({ serialNumber: s.serial, revocationDate: new Date(s.revokedAt!), reason: x509.X509CrlReason.keyCompromise })),
      });
      if (request.params.format === 'der') return reply.type('application/pkix-crl').send(Buffer.from(crl.rawData));
      // RFC 7468 §5: a CRL's PEM label is "X509 CRL" (what OpenSSL reads), not plain "CRL".
      return reply.type('application/x-pem-file').send(toPem(new Uint8Array(crl.rawData), 'X509 CRL'));
    },
  );
}

