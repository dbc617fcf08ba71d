import type { FastifyInstance } from 'fastify';
import { InterlockError } from '../../errors.ts';
import { chainLinkProblem, recordSchemaProblem, type AuditRecord } from '../../audit/record.ts';
import { SVID, roles } from '../auth.ts';
import type { ServerDeps } from '../app.ts';
import { gatewayCaller } from './trust.ts';

const STREAM = { type: 'string', pattern: '^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?(/[a-z0-9][-a-z0-9]{0,62})?$' } as const;
const MAX_BATCH = 500;

/**
 * Gateways' audit chains, shipped to the control plane (gateway/audit-shipper.ts).
 * A stream belongs to one cluster: `<cluster>` or `<cluster>/<name>` for
 * several gateways of one cluster. Every record is checked (schema, hash,
 * link to the previous one) before the store keeps it; the answer is the
 * stored head, from which the gateway sends next.
 */
export function registerAuditStreamRoutes(app: FastifyInstance, deps: ServerDeps): void {
  const { store } = deps;

  app.get<{ Params: { stream: string } }>('/v1/audit/streams/:stream/head', { config: { auth: SVID }, schema: { params: { type: 'object', properties: { stream: STREAM } } } }, async (request) => {
    const caller = await gatewayCaller(request, deps);
    checkOwnership(request.params.stream, caller.cluster);
    const head = (await store.gatewayAuditHeads()).find((h) => h.stream === request.params.stream);
    return { stream: request.params.stream, seq: head?.seq ?? 0, hash: head?.hash ?? null };
  });

  app.post<{ Params: { stream: string }; Body: { records: unknown[] } }>(
    '/v1/audit/streams/:stream/records',
    {
      config: { auth: SVID },
      bodyLimit: 8 * 1024 * 1024,
      schema: {
        params: { type: 'object', properties: { stream: STREAM } },
        body: { type: 'object', additionalProperties: false, required: ['records'], properties: { records: { type: 'array', minItems: 1, maxItems: MAX_BATCH, items: { type: 'object' } } } },
      },
    },
    async (request) => {
      const caller = await gatewayCaller(request, deps);
      const stream = request.params.stream;
      checkOwnership(stream, caller.cluster);
      const records = request.body.records as AuditRecord[];
      // Within the batch the chain must hold on its own; the store checks the link to what it already has.
      let previous: AuditRecord | undefined;
      for (const [index, record] of records.entries()) {
        const problem = recordSchemaProblem(record) ?? (previous ? chainLinkProblem(previous, record) : hashProblem(record));
        if (problem) throw new InterlockError('IL_ERR_AUDIT_BATCH_REFUSED', `record ${index} of the batch (seq ${String((record as { seq?: unknown })?.seq)}): ${problem}`, { field: `body.records.${index}` });
        previous = record;
      }
      const result = await store.appendGatewayAudit(stream, records, deps.clock.now().toISOString());
      if (result.conflict !== null) {
        throw new InterlockError('IL_ERR_AUDIT_BATCH_REFUSED', `record ${result.conflict} of stream ${stream} contradicts the chain the control plane holds (stored head ${result.head})`, { field: 'body.records' });
      }
      return { stream, head: result.head, inserted: result.inserted };
    },
  );

  app.get('/v1/audit/streams', { config: { auth: roles('auditor') } }, async () => store.gatewayAuditHeads());

  app.get('/v1/audit/checkpoints', { config: { auth: roles('auditor') } }, async () => deps.audit.latestCheckpoints());
  // On demand, besides the job's interval: e.g. right before an export or an investigation.
  app.post('/v1/audit/checkpoints', { config: { auth: roles('auditor') } }, async () => deps.audit.checkpointAll());

  const TIME = { type: 'string', format: 'date-time' } as const;
  app.get<{ Querystring: { stream: string; from?: string; to?: string } }>(
    '/v1/audit/export',
    {
      config: { auth: roles('auditor') },
      schema: { querystring: { type: 'object', additionalProperties: false, required: ['stream'], properties: { stream: { anyOf: [STREAM, { const: 'control-plane' }] }, from: TIME, to: TIME } } },
    },
    async (request) => deps.audit.export(request.query.stream, isoOrUndefined(request.query.from), isoOrUndefined(request.query.to)),
  );

  app.get<{ Querystring: Record<string, string | number | undefined> }>(
    '/v1/audit/query',
    {
      config: { auth: roles('auditor') },
      schema: {
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            stream: { anyOf: [STREAM, { const: 'control-plane' }] },
            principal: { type: 'string', maxLength: 2048 },
            resource: { type: 'string', maxLength: 256 },
            decision: { enum: ['allow', 'deny'] },
            type: { type: 'string', maxLength: 128 },
            traceId: { type: 'string', pattern: '^[0-9a-f]{32}$' },
            since: TIME,
            until: TIME,
            limit: { type: 'integer', minimum: 1, maximum: 10_000 },
          },
        },
      },
    },
    async (request) => {
      const q = request.query;
      return deps.audit.query({
        ...(q.stream ? { stream: String(q.stream) } : {}),
        ...(q.principal ? { principal: String(q.principal) } : {}),
        ...(q.resource ? { resource: String(q.resource) } : {}),
        ...(q.decision ? { decision: q.decision as 'allow' | 'deny' } : {}),
        ...(q.type ? { type: String(q.type) } : {}),
        ...(q.traceId ? { traceId: String(q.traceId) } : {}),
        ...(q.since ? { since: isoOrUndefined(String(q.since))! } : {}),
        ...(q.until ? { until: isoOrUndefined(String(q.until))! } : {}),
        ...(q.limit ? { limit: Number(q.limit) } : {}),
      });
    },
  );

  app.get<{ Params: { stream: string }; Querystring: { after?: number; limit?: number } }>(
    '/v1/audit/streams/:stream',
    {
      config: { auth: roles('auditor') },
      schema: {
        params: { type: 'object', properties: { stream: STREAM } },
        querystring: { type: 'object', additionalProperties: false, properties: { after: { type: 'integer', minimum: 0 }, limit: { type: 'integer', minimum: 1, maximum: 10_000 } } },
      },
    },
    async (request) => store.gatewayAuditSince(request.params.stream, request.query.after ?? 0, request.query.limit ?? 1000),
  );
}

function checkOwnership(stream: string, cluster: string): void {
  if (stream !== cluster && !stream.startsWith(`${cluster}/`)) {
    throw new InterlockError('IL_ERR_ROLE_FORBIDDEN', `the gateway of ${cluster} may not write audit stream ${stream}`, { field: 'stream' });
  }
}

/** The first record of a batch: its own hash must be right (its link is checked against the stored head). */
function hashProblem(record: AuditRecord): string | undefined {
  const problem = chainLinkProblem(undefined, record);
  return problem?.startsWith('hash does not match') ? problem : undefined;
}

/** Records store times as Date#toISOString writes them; compare in that form. */
function isoOrUndefined(value: string | undefined): string | undefined {
  return value ? new Date(value).toISOString() : undefined;
}
