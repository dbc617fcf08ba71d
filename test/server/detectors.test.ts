import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { openStore } from '../../src/store/open.ts';
import { DetectorService } from '../../src/server/detectors.ts';
import type { IncidentService } from '../../src/server/incidents.ts';
import { systemClock } from '../../src/clock.ts';
import { silentLogger } from '../../src/telemetry/logger.ts';
import { cluster, entry, svid } from '../store/fixtures.ts';
import { tempDir } from '../helpers/pki.ts';

async function withDetector(fn: (detector: DetectorService, serial: string) => Promise<void>) {
  const store = await openStore(`sqlite:${join(tempDir('interlock-detect-unit-'), 'db')}`);
  try {
    await store.insertCluster(cluster('east'));
    await store.insertCluster(cluster('west'));
    const frontend = entry('east', 'frontend');
    await store.insertEntry(frontend);
    // A serial whose first hex digit is 0, as the CA may well produce.
    await store.insertSvid(svid('0f3a9c', frontend, { notAfter: new Date(Date.now() + 3_600_000).toISOString() }));
    const detector = new DetectorService(store, undefined as unknown as IncidentService, { svidInTwoClusters: 'alert', denyBurst: 'alert' }, systemClock, silentLogger());
    await fn(detector, '0f3a9c');
  } finally {
    await store.close();
  }
}

test('an SVID reported from another cluster is found whatever its leading zeros, and raises an alert', () =>
  withDetector(async (detector) => {
    // Gateways report serials normalised (no leading zeros, lower case).
    assert.equal(await detector.ingest({ gateway: 'spiffe://west.acme.internal/ns/interlock-system/sa/interlock-gateway', cluster: 'west' }, [{ kind: 'foreign-svid', serial: 'F3A9C', spiffeId: 'x' }]), 1);
    const [alert] = await detector.alerts();
    assert.equal(alert!.detector, 'svid-in-two-clusters');
    assert.equal(alert!.action, 'alert-only');
    assert.equal(alert!.details.home, 'east');
  }));

test('the same SVID seen in its own cluster, or an unknown serial, is not an alert', () =>
  withDetector(async (detector, serial) => {
    const east = { gateway: 'spiffe://east.acme.internal/ns/interlock-system/sa/interlock-gateway', cluster: 'east' };
    assert.equal(await detector.ingest(east, [{ kind: 'foreign-svid', serial, spiffeId: 'x' }, { kind: 'foreign-svid', serial: 'abcdef', spiffeId: 'y' }]), 0);
    assert.deepEqual(await detector.alerts(), []);
  }));
