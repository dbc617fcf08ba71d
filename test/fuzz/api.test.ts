/**
 * The control plane API under random and mutated request bodies: every answer
 * is a 2xx, or a 4xx whose JSON `error.code` is registered with that very
 * status. Never a 5xx, and the server still answers /healthz afterwards.
 */
import assert from 'node:assert/strict';
import https from 'node:https';
import { after } from 'node:test';
import fc from 'fast-check';
import { ERRORS, type ErrorCode } from '../../src/errors.ts';
import { createCsr } from '../../src/pki/csr.ts';
import { exportPrivateKeyPem, generateKeyPair } from '../../src/pki/x509.ts';
import { startTestControlPlane } from '../helpers/control-plane.ts';
import { anyString, mutatedJson, mutatedText } from './mutate.ts';
import { ContractViolation, fuzz } from './harness.ts';

const cp = await startTestControlPlane();
after(() => cp.close());
const admin = await cp.adminWith('fuzzer', ['operator', 'key-custodian', 'auditor', 'policy-author', 'policy-approver']);
const GATEWAY_ID = 'spiffe://acme-east.internal/ns/interlock-system/sa/interlock-gateway';
await cp.call('POST', '/v1/clusters', { name: 'east', trustDomain: 'acme-east.internal' });
const gatewayEntry = await cp.call<{ id: string }>('POST', '/v1/entries', { cluster: 'east', spiffeId: GATEWAY_ID, gateway: true });
const entry = await cp.call<{ id: string }>('POST', '/v1/entries', { cluster: 'east', spiffeId: 'spiffe://acme-east.internal/ns/shop/sa/frontend', namespace: 'shop', serviceAccount: 'frontend' });
const keys = await generateKeyPair();
const csr = await createCsr(keys);
const joinToken = async () => (await cp.call<{ token: string }>('POST', '/v1/join-tokens', { entryId: gatewayEntry.id })).token;
const gateway = await cp.call<{ certChainPem: string; serial: string }>('POST', '/v1/attest/join-token', { token: await joinToken(), csr }, cp.anonymous);
const gatewayKeyPem = await exportPrivateKeyPem(keys.privateKey);
const policy = await cp.call<{ version: number }>('POST', '/v1/policies', { text: 'permit (principal, action, resource);' }, admin);

const url = new URL(cp.server.url);
const adminAgent = new https.Agent({ ca: cp.admin.bundlePem, keepAlive: true, maxSockets: 2 });
const gatewayAgent = new https.Agent({ ca: cp.admin.bundlePem, cert: gateway.certChainPem, key: gatewayKeyPem, keepAlive: true, maxSockets: 2 });
after(() => (adminAgent.destroy(), gatewayAgent.destroy()));

interface Answer {
  readonly status: number;
  readonly body: string;
}

function send(method: string, path: string, body: string | undefined, options: { contentType?: string; svid?: boolean }): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const request = https.request(
      {
        host: url.hostname, port: url.port, method, path, agent: options.svid ? gatewayAgent : adminAgent, checkServerIdentity: () => undefined,
        headers: {
          ...(options.svid ? {} : { authorization: `Bearer ${admin.token}` }),
          ...(options.contentType ? { 'content-type': options.contentType } : {}),
          ...(body !== undefined ? { 'content-length': Buffer.byteLength(body) } : {}),
        },
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      },
    );
    request.on('error', reject);
    request.end(body);
  });
}

/** The contract: 2xx, or 4xx with a registered code whose documented status is the one sent. */
function checkAnswer(route: string, answer: Answer): void {
  if (answer.status >= 200 && answer.status < 300) return;
  let code: string | undefined;
  try {
    code = (JSON.parse(answer.body) as { error?: { code?: string } }).error?.code;
  } catch {
    throw new ContractViolation(`${route} answered ${answer.status} with a body that is not JSON: ${answer.body.slice(0, 200)}`);
  }
  if (answer.status >= 500) throw new ContractViolation(`${route} answered ${answer.status} ${code}: ${answer.body.slice(0, 300)}`);
  if (!code || !(code in ERRORS)) throw new ContractViolation(`${route} answered ${answer.status} with unregistered code ${String(code)}`);
  if (ERRORS[code as ErrorCode].status !== answer.status) throw new ContractViolation(`${route} answered ${answer.status} with ${code}, documented as ${ERRORS[code as ErrorCode].status}`);
}

interface Route {
  readonly method: string;
  readonly path: fc.Arbitrary<string>;
  readonly valid: Record<string, unknown>;
  readonly svid?: boolean;
}

const segment = (real: string) => fc.oneof(fc.constant(real), anyString.map(encodeURIComponent), fc.stringMatching(/^[0-9a-f-]{1,40}$/));
const at = (path: string) => fc.constant(path);
const ADMIN_ROUTES: Route[] = [
  { method: 'POST', path: at('/v1/clusters'), valid: { name: 'west', trustDomain: 'acme-west.internal', k8s: { jwks: { keys: [{ kty: 'EC', crv: 'P-256', x: 'x', y: 'y' }] }, issuer: 'https://k8s' } } },
  { method: 'PUT', path: segment('east').map((name) => `/v1/clusters/${name}/k8s`), valid: { jwks: { keys: [{ kty: 'EC', crv: 'P-256', x: 'x', y: 'y' }] }, issuer: 'https://k8s' } },
  { method: 'POST', path: at('/v1/entries'), valid: { cluster: 'east', spiffeId: 'spiffe://acme-east.internal/ns/a/sa/b', namespace: 'a', serviceAccount: 'b', ttlSeconds: 600, gateway: false } },
  { method: 'PATCH', path: segment(entry.id).map((id) => `/v1/entries/${id}`), valid: { ttlSeconds: 900, namespace: 'shop', serviceAccount: 'frontend' } },
  { method: 'POST', path: at('/v1/join-tokens'), valid: { entryId: entry.id, ttlSeconds: 600 } },
  { method: 'POST', path: at('/v1/admins'), valid: { name: 'someone', roles: ['auditor'] } },
  { method: 'POST', path: at('/v1/policies'), valid: { text: '@id("a") permit (principal, action, resource) when { context.method == "GET" };', comment: 'c', schema: 'entity Workload;' } },
  { method: 'POST', path: segment(String(policy.version)).map((v) => `/v1/policies/${v}/stage`), valid: { stage: 'canary', clusters: ['east'], percent: 10 } },
  { method: 'POST', path: segment(String(policy.version)).map((v) => `/v1/policies/${v}/approve`), valid: { comment: 'ok' } },
  { method: 'POST', path: at('/v1/revocations'), valid: { spiffeId: 'spiffe://acme-east.internal/ns/a/sa/b', reason: 'test' } },
  { method: 'POST', path: segment(gateway.serial).map((s) => `/v1/svids/${s}/revoke`), valid: { reason: 'test' } },
  { method: 'POST', path: at('/v1/incidents/compromise'), valid: { spiffeId: 'spiffe://acme-east.internal/ns/a/sa/b', reason: 'test' } },
  { method: 'POST', path: at('/v1/attest/join-token'), valid: { token: 'iljt_0123456789abcdef', csr } },
  { method: 'POST', path: at('/v1/attest/k8s'), valid: { cluster: 'east', token: 'eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln', csr } },
];
const SVID_ROUTES: Route[] = [
  { method: 'POST', path: segment('east').map((s) => `/v1/audit/streams/${s}/records`), valid: { records: [{ v: 1, seq: 1, time: '2025-01-01T00:00:00.000Z', type: 't', data: { a: [1] }, prev: '0'.repeat(64), hash: 'a'.repeat(64) }] }, svid: true },
  { method: 'POST', path: at('/v1/signals'), valid: { signals: [{ kind: 'deny-burst', at: '2025-01-01T00:00:00Z', identity: 'spiffe://x/y', count: 3 }] }, svid: true },
  { method: 'POST', path: at('/v1/policy/report'), valid: { enforcedVersion: 1, candidateVersion: null, candidateMode: null, state: 'fresh', expiresAt: null, evaluated: 1, disagreements: 0, allowToDeny: 0, denyToAllow: 0 }, svid: true },
  { method: 'POST', path: at('/v1/trust/report'), valid: { version: 1, serials: ['ab12'] }, svid: true },
  { method: 'POST', path: at('/v1/svid/jwt'), valid: { audience: ['west'], ttlSeconds: 600 }, svid: true },
];
const KEYS = [...new Set([...ADMIN_ROUTES, ...SVID_ROUTES].flatMap((r) => JSON.stringify(r.valid).match(/"([a-zA-Z]+)":/g)!.map((k) => k.slice(1, -2))))];

/** The hostile data that once broke the records route: audit data nested thousands deep (a stack overflow while hashing). */
const deepRecords = fc.integer({ min: 1, max: 20_000 }).map((depth) => `{"records":[{"v":1,"seq":1,"time":"2025-01-01T00:00:00.000Z","type":"t","data":{"a":${'['.repeat(depth)}${']'.repeat(depth)}},"prev":"${'0'.repeat(64)}","hash":"${'a'.repeat(64)}"}]}`);

/** Requests to `routes` with JSON bodies: mutations of a valid body (keys from the real schemas), or any JSON value. */
function requests(routes: Route[], bodies: (route: Route) => fc.Arbitrary<string>[] = jsonBodies) {
  return fc.nat({ max: routes.length - 1 }).chain((index) =>
    fc.record({ route: fc.constant(index), path: routes[index]!.path, body: fc.oneof(...bodies(routes[index]!)) }).map((r) => ({ ...r, method: routes[index]!.method, svid: routes[index]!.svid ?? false })),
  );
}

function jsonBodies(route: Route): fc.Arbitrary<string>[] {
  return [mutatedJson(route.valid, KEYS).map((v) => JSON.stringify(v)), fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v)), ...(route.valid.records ? [deepRecords] : [])];
}

interface Exchange {
  readonly method: string;
  readonly path: string;
  readonly body: string;
  readonly svid: boolean;
  readonly contentType?: string;
}

async function exchange({ method, path, body, svid, contentType = 'application/json' }: Exchange): Promise<void> {
  checkAnswer(`${method} ${path}`, await send(method, path, body, { contentType, svid }));
}

// The SVID routes first: the admin routes below may revoke the gateway's SVID (then every SVID route is a 401, still a 4xx).
fuzz('API, SVID routes: any JSON body a gateway sends is a 2xx or a documented 4xx, never a 5xx', [requests(SVID_ROUTES)], exchange, {
  scale: 0.5,
  // Regression: audit data nested 5,000 deep overflowed the stack while the route hashed the record (a 500).
  examples: [[{ method: 'POST', path: '/v1/audit/streams/east/records', svid: true, body: `{"records":[{"v":1,"seq":1,"time":"2025-01-01T00:00:00.000Z","type":"t","data":{"a":${'['.repeat(5000)}${']'.repeat(5000)}},"prev":"${'0'.repeat(64)}","hash":"${'a'.repeat(64)}"}]}` }]],
});

fuzz('API, admin and attestation routes: any JSON body is a 2xx or a documented 4xx, never a 5xx', [requests(ADMIN_ROUTES)], exchange, { scale: 1 });

/** Bodies that are not JSON, or not sent as JSON: Fastify itself refuses them before any route runs. */
const malformed = fc.record({
  request: requests([...ADMIN_ROUTES.slice(0, 3), SVID_ROUTES[1]!], (route) => [mutatedText(JSON.stringify(route.valid)), anyString]),
  contentType: fc.constantFrom('application/json', 'text/plain', 'application/json; charset=utf-16', 'application/x-www-form-urlencoded', ''),
});

fuzz('API: a body that is not JSON, or has another content type, is a 400 IL_ERR_REQUEST_INVALID, never a 5xx', [malformed], ({ request, contentType }) => exchange({ ...request, contentType }), {
  scale: 0.25,
});

const queries = fc.record({
  path: fc.constantFrom('/v1/entries', '/v1/audit', '/v1/svids', '/v1/audit/query', '/v1/audit/export', '/v1/policy/events', '/v1/audit/streams/east'),
  query: fc.dictionary(fc.constantFrom('cluster', 'after', 'limit', 'stream', 'from', 'to', 'valid', 'revoked', 'spiffeId', 'principal', 'x'), fc.oneof(anyString, fc.integer().map(String)), { maxKeys: 4 }),
});

fuzz('API, queries: any query string on the list and search routes is a 2xx or a documented 4xx', [queries], async ({ path, query }) => {
  const search = new URLSearchParams(query).toString();
  checkAnswer(`GET ${path}?${search}`, await send('GET', `${path}?${search}`, undefined, {}));
}, { scale: 0.5 });

fuzz('API: after all of that, the control plane is healthy', [fc.constant(null)], async () => {
  const health = await send('GET', '/healthz', undefined, {});
  assert.equal(health.status, 200);
  assert.deepEqual(JSON.parse(health.body), { status: 'ok' });
}, { scale: 0 });
