import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fixedClock } from '../../src/clock.ts';
import { createClusterCa, createRootCa, issueX509Svid, type CaMaterial, type ClusterCa } from '../../src/pki/certificates.ts';
import { certificatesToPem, exportPrivateKeyPem, generateKeyPair, type x509 } from '../../src/pki/x509.ts';

export function tempDir(prefix = 'interlock-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export interface TestPki {
  root: CaMaterial;
  east: ClusterCa;
  west: ClusterCa;
}

/** An organisation root with two name-constrained cluster CAs, as `ca init` + `ca add-cluster` make them. */
export async function makePki(at: Date = new Date()): Promise<TestPki> {
  const clock = fixedClock(at);
  const root = await createRootCa({ organization: 'Acme', clock });
  const east = await createClusterCa(root, { cluster: 'east', trustDomain: 'east.acme.internal', organization: 'Acme', clock });
  const west = await createClusterCa(root, { cluster: 'west', trustDomain: 'west.acme.internal', organization: 'Acme', clock });
  return { root, east, west };
}

export async function makeSvid(ca: ClusterCa, spiffeId: string, options: { at?: Date; ttlMs?: number } = {}) {
  const keys = await generateKeyPair();
  const cert = await issueX509Svid(ca, { spiffeId, publicKey: keys.publicKey, clock: fixedClock(options.at ?? new Date()), ...(options.ttlMs ? { ttlMs: options.ttlMs } : {}) });
  return { cert, chain: [cert, ca.cert], keyPem: await exportPrivateKeyPem(keys.privateKey), certPem: certificatesToPem([cert, ca.cert]) };
}

export function writePem(dir: string, name: string, certs: x509.X509Certificate[]): string {
  const path = join(dir, name);
  writeFileSync(path, certificatesToPem(certs));
  return path;
}
