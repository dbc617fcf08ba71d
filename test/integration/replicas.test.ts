import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { stringify as toYaml } from 'yaml';
import { apiRequest, type ApiConnection } from '../../src/client/api.ts';
import { verifyRecordChain } from '../../src/audit/verify-records.ts';
import { generateKeyFileContent } from '../../src/pki/key-protection.ts';
import { exportBundle } from '../../src/cli/commands/server/bundle.ts';
import { createFakeApiServer, type FakeApiServer } from '../../src/lab/fake-kubernetes.ts';
import { freePort } from '../../src/lab/free-port.ts';
import { spawnInterlock, stopChild } from '../../src/lab/process.ts';
import { WorkloadIdentity } from '../../src/workload/identity.ts';
import { startTestPostgres, type TestPostgres } from '../helpers/postgres.ts';
import { tempDir } from '../helpers/pki.ts';

interface Replica {
  readonly url: string;
  readonly child: ChildProcess;
}

describe('two control plane replicas on one PostgreSQL database', () => {
  let postgres: TestPostgres;
  let dir: string;
  const replicas: Replica[] = [];
  let admin: ApiConnection;
  let k8s: FakeApiServer;
  let bundlePem: string;
  const workloads: WorkloadIdentity[] = [];

  const startReplica = async (name: string, bootstrap: boolean): Promise<Replica> => {
    const configPath = join(dir, `${name}.yaml`);
    writeFileSync(configPath, toYaml({ listen: `127.0.0.1:${await freePort()}`, store: postgres.url, organization: 'Acme', domain: 'acme.internal', secret: { keyFile: join(dir, 'ca.key') } }));
    const args = ['server', '--config', configPath, ...(bootstrap ? ['--bootstrap-admin-token-file', join(dir, `admin-${name}.token`)] : [])];
    const { child, ready } = await spawnInterlock(args, { logPath: join(dir, `${name}.log`), readyEvent: 'server.ready', timeoutMs: 60_000 });
    const replica = { url: String(ready.url), child };
    replicas.push(replica);
    return replica;
  };

  before(async () => {
    postgres = await startTestPostgres();
    dir = tempDir('interlock-replicas-');
    writeFileSync(join(dir, 'ca.key'), generateKeyFileContent(), { mode: 0o600 });
    // Both start at once against an empty database, both asked to bootstrap:
    // migrations, root CA creation and the first admin must each happen once.
    await Promise.all([startReplica('a', true), startReplica('b', true)]);
    bundlePem = await exportBundle(postgres.url);
    const tokens = ['a', 'b'].map((name) => join(dir, `admin-${name}.token`)).filter((file) => existsSync(file));
    assert.equal(tokens.length, 1, 'exactly one replica creates the bootstrap admin');
    admin = { server: replicas[0]!.url, bundlePem, token: readFileSync(tokens[0]!, 'utf8').trim() };
    k8s = await createFakeApiServer('east');
    await apiRequest(admin, 'POST', '/v1/clusters', { name: 'east', k8s: { jwks: k8s.jwks, issuer: k8s.issuer } });
    await apiRequest(admin, 'POST', '/v1/entries', { cluster: 'east', spiffeId: 'spiffe://east.acme.internal/ns/shop/sa/frontend', namespace: 'shop', serviceAccount: 'frontend' });
  });

  after(async () => {
    workloads.forEach((w) => w.close());
    await Promise.all(replicas.map((r) => stopChild(r.child)));
    await postgres?.stop();
  });

  const attestAt = (url: string) =>
    WorkloadIdentity.attest({ server: url, bundlePem, attestation: { kind: 'k8s', cluster: 'east', token: () => k8s.mintToken('shop', 'frontend') } });

  test('both replicas share one root: the bundle is the same from either', async () => {
    const [a, b] = (await Promise.all(replicas.map((r) => apiRequest<string>({ server: r.url, bundlePem }, "GET", "/v1/bundle.pem")))) as unknown as [{ body: string }, { body: string }];
    assert.equal(a.body, b.body);
    assert.equal((a.body.match(/BEGIN CERTIFICATE/g) ?? []).length, 1);
  });

  test('an SVID issued through one replica renews through the other', async () => {
    const identity = await attestAt(replicas[0]!.url);
    workloads.push(identity);
    const first = identity.current.serial;
    const renewed = await apiRequest<{ serial: string; spiffeId: string }>(
      { server: replicas[1]!.url, bundlePem, certPem: identity.current.certPem, keyPem: identity.current.keyPem },
      'POST',
      '/v1/svid/renew',
      { csr: await (await import('../../src/pki/csr.ts')).createCsr(await (await import('../../src/pki/x509.ts')).generateKeyPair()) },
    );
    assert.notEqual(renewed.body.serial, first);
    assert.equal(renewed.body.spiffeId, 'spiffe://east.acme.internal/ns/shop/sa/frontend');
  });

  test('killing one replica mid-run loses nothing: every issued SVID and every audit record is there', async () => {
    const issued: string[] = [];
    const failures: string[] = [];
    const [a, b] = replicas as [Replica, Replica];
    let killed = false;
    for (let i = 0; i < 30; i++) {
      if (i === 12) {
        a.child.kill('SIGKILL'); // no goodbye: as if the machine died
        killed = true;
      }
      const target = killed || i % 2 === 1 ? b : a;
      try {
        const identity = await attestAt(target.url);
        identity.close();
        issued.push(identity.current.serial);
      } catch (error) {
        failures.push(`${i}: ${(error as Error).message}`);
      }
    }
    // Requests after the kill go to b, so none may fail.
    assert.deepEqual(failures, []);
    assert.equal(issued.length, 30);
    const viaB = { ...admin, server: b.url };
    const inventory = (await apiRequest<Array<{ serial: string }>>(viaB, 'GET', '/v1/svids?limit=10000')).body.map((s) => s.serial);
    for (const serial of issued) assert.ok(inventory.includes(serial), `issued ${serial} missing from the inventory`);
    const records = (await apiRequest<Array<{ type: string; data: { serial?: string } }>>(viaB, 'GET', '/v1/audit?limit=10000')).body;
    assert.equal(verifyRecordChain(records).ok, true);
    const audited = new Set(records.filter((r) => r.type === 'svid.issued').map((r) => r.data.serial));
    for (const serial of issued) assert.ok(audited.has(serial), `issued ${serial} has no audit record`);
  });
});
