/** Row builders and helpers shared by the store contract suites. */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { chainLinkProblem, type AuditRecord } from '../../src/audit/record.ts';
import type { ErrorCode } from '../../src/errors.ts';
import { InterlockError } from '../../src/errors.ts';
import type {
  AdminRow, AuthorityRow, ClusterRow, JoinTokenRow, PolicyVersionRow, RegistrationEntryRow, Store, SvidRow,
} from '../../src/store/types.ts';

export type OpenStore = () => Promise<Store>;

const T0 = Date.parse('2025-01-01T00:00:00.000Z');

/** The ISO time `seconds` after 2025-01-01T00:00:00.000Z. */
export function at(seconds: number): string {
  return new Date(T0 + seconds * 1000).toISOString();
}

/** Opens a fresh store, migrates it, runs `fn`, and always closes it. */
export async function withStore<T>(open: OpenStore, fn: (store: Store) => Promise<T>): Promise<T> {
  const store = await open();
  try {
    await store.migrate();
    return await fn(store);
  } finally {
    await store.close();
  }
}

export function cluster(name: string, over: Partial<ClusterRow> = {}): ClusterRow {
  return { name, trustDomain: `${name}.acme.internal`, k8sJwks: null, k8sIssuer: null, createdAt: at(0), createdBy: 'alice', ...over };
}

export function entry(clusterName: string, workload: string, over: Partial<RegistrationEntryRow> = {}): RegistrationEntryRow {
  return {
    id: randomUUID(),
    cluster: clusterName,
    spiffeId: `spiffe://${clusterName}.acme.internal/ns/default/sa/${workload}`,
    namespace: 'default',
    serviceAccount: workload,
    ttlSeconds: 3600,
    gateway: false,
    createdAt: at(1),
    createdBy: 'alice',
    ...over,
  };
}

export function joinToken(entryId: string, over: Partial<JoinTokenRow> = {}): JoinTokenRow {
  return { tokenHash: randomUUID().replace(/-/g, ''), entryId, expiresAt: at(600), usedAt: null, createdAt: at(0), createdBy: 'alice', ...over };
}

export function authority(serial: string, over: Partial<AuthorityRow> = {}): AuthorityRow {
  return {
    serial,
    kind: 'root',
    cluster: null,
    certPem: `-----BEGIN CERTIFICATE-----\n${serial}\n-----END CERTIFICATE-----\n`,
    sealedKey: JSON.stringify({ v: 1, alg: 'A256GCM', data: serial }),
    status: 'active',
    notAfter: at(86_400 * 365),
    createdAt: at(0),
    ...over,
  };
}

export function svid(serial: string, e: RegistrationEntryRow, over: Partial<SvidRow> = {}): SvidRow {
  return {
    serial,
    spiffeId: e.spiffeId,
    cluster: e.cluster,
    entryId: e.id,
    issuerSerial: 'ca-1',
    notBefore: at(0),
    notAfter: at(3600),
    issuedAt: at(0),
    method: 'join-token',
    revokedAt: null,
    revocationReason: null,
    ...over,
  };
}

export function admin(name: string, over: Partial<AdminRow> = {}): AdminRow {
  return { name, roles: ['operator'], tokenHash: `hash-of-${name}`, disabled: false, createdAt: at(0), createdBy: 'bootstrap', ...over };
}

export function policy(text: string, over: Partial<Omit<PolicyVersionRow, 'version'>> = {}): Omit<PolicyVersionRow, 'version'> {
  return {
    text,
    digest: `sha256:${Buffer.from(text).toString('hex').padEnd(64, '0').slice(0, 64)}`,
    status: 'proposed',
    proposedBy: 'alice',
    proposedAt: at(10),
    decidedBy: null,
    decidedAt: null,
    comment: null,
    ...over,
  };
}

/** Asserts `promise` rejects with an InterlockError of `code` (and `field`, if given). */
export async function rejectsWith(promise: Promise<unknown>, code: ErrorCode, field?: string): Promise<InterlockError> {
  let caught: unknown;
  try {
    await promise;
  } catch (error) {
    caught = error;
  }
  assert.ok(caught instanceof InterlockError, `expected ${code}, got ${caught === undefined ? 'no error' : String(caught)}`);
  assert.equal(caught.code, code, caught.message);
  if (field !== undefined) assert.equal(caught.field, field, caught.message);
  return caught;
}

/** Fails instead of hanging when `promise` does not settle within `ms`. */
export function settlesWithin<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not settle within ${ms} ms (deadlock?)`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Asserts `records` is a whole valid chain from seq 1. */
export function assertValidChain(records: readonly AuditRecord[]): void {
  let prev: AuditRecord | undefined;
  for (const record of records) {
    assert.equal(chainLinkProblem(prev, record), undefined, `record ${record.seq}`);
    prev = record;
  }
}

/** A promise and the function that resolves it. */
export function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}
