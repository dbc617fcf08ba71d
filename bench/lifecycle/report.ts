/** The tables bench/lifecycle/run.ts prints. */
import type { RateRow } from './issuance.ts';
import type { RevocationResult } from './revocation.ts';
import type { RotationResult } from './rotation.ts';
import { count, ms, percentile, table } from './table.ts';

const secs = (elapsedMs: number) => (elapsedMs / 1000).toFixed(2);
const prep = (rows: readonly RateRow[]) => secs(rows.reduce((sum, r) => sum + r.prepMs, 0));
const pct = (share: number | undefined) => (share === undefined ? '-' : `${Math.round(share * 100)}`);
const cpuCells = (r: RateRow) => [pct(r.cpu?.serverLoop), pct(r.cpu?.clientLoop), pct(r.cpu?.process)];
const CPU_HEADER = ['server loop %', 'client loop %', 'CPU %'];
const CPU_NOTE = '- server loop % / client loop %: event-loop utilisation of the control plane (main thread) and of the load worker during the timed window; CPU %: the process, as a share of all cores';

export function printIssuance(rows: readonly RateRow[], issued: number, stored: number): string[] {
  return [
    'Issuance: SVIDs issued and stored by the control plane (POST /v1/attest/join-token)',
    '',
    table(
      ['call', 'concurrency', 'SVIDs', 'wall s', 'SVIDs/s', 'p50 ms', 'p99 ms', ...CPU_HEADER],
      rows.map((r) => [r.label, String(r.concurrency), count(r.count), secs(r.elapsedMs), count(r.perSecond), ms(r.p50), ms(r.p99), ...cpuCells(r)]),
    ),
    '',
    `- keys and CSRs pre-generated before timing (${prep(rows)} s, untimed), join tokens created beforehand through the admin API: the rows measure the server`,
    '- load from a worker thread of this process; every call is a new TLS 1.3 connection (one per workload); store: SQLite file in a temp dir',
    CPU_NOTE,
    `- store check: ${count(stored)} SVID rows in the store (store.listSvids) = ${count(issued)} SVIDs issued in this run, warm-up and peer rows included`,
  ];
}

export function printRotation(result: RotationResult, concurrency: number): string[] {
  const r = result.row;
  return [
    `Rotation: every SVID renewed once (POST /v1/svid/renew over mTLS with that SVID, body {csr})`,
    '',
    table(['SVIDs', 'concurrency', 'wall s', 'renewals/s', 'p50 ms', 'p99 ms', ...CPU_HEADER], [[count(r.count), String(concurrency), secs(r.elapsedMs), count(r.perSecond), ms(r.p50), ms(r.p99), ...cpuCells(r)]], 0),
    '',
    `- new keys and CSRs pre-generated before timing (${secs(r.prepMs)} s, untimed); each renewal is its own mTLS connection`,
    `- store check: ${count(result.storedBefore)} → ${count(result.storedAfter)} SVID rows (+${count(result.storedAfter - result.storedBefore)}, one per renewal)`,
  ];
}

export function printPeer(ours: readonly RateRow[], openssl: readonly RateRow[], n: number): string[] {
  const rows = [...ours.map((r) => ({ r, stores: 'SVID row + audit record' })), ...openssl.map((r) => ({ r, stores: r.label.startsWith('openssl version') ? '-' : 'cert file only' }))];
  return [
    `Issuance next to a peer: ${count(n)} certificates per row, CSRs pre-generated`,
    '',
    table(
      ['issuer', 'concurrency', 'certs', 'certs/s', 'p50 ms', 'p99 ms', 'records'],
      rows.map(({ r, stores }) => [r.label, String(r.concurrency), count(r.count), count(r.perSecond), ms(r.p50), ms(r.p99), stores]),
    ),
    '',
    '- openssl: EC P-256 CA, `openssl x509 -req` with the SPIFFE ID as URI SAN, one process per certificate as a CLI-driven CA runs it; no attestation,',
    '  no inventory, no audit, no revocation state. The "process start only" row is `openssl version`: what spawning costs before any signing',
    '- interlock: attestation (join token consumed), signing, SVID row and audit record in one transaction, over a new TLS connection',
  ];
}

function stats(samples: readonly number[]): [string, string, string, string] {
  const finite = samples.filter(Number.isFinite);
  return [String(samples.length), ms(percentile(finite, 0.5), 0), ms(percentile(finite, 0.99), 0), ms(finite.length ? Math.max(...finite) : Number.NaN, 0)];
}

export function printRevocation(r: RevocationResult, probeMs: number): string[] {
  const pairs = r.refusedMs.flat();
  const perRoundMax = r.refusedMs.map((round) => Math.max(...round));
  const never = pairs.filter((v) => !Number.isFinite(v)).length;
  const cuts = r.cutMs.flat();
  const quiet = r.quietCutMs.flat();
  const uncut = [...cuts, ...quiet].filter((v) => !Number.isFinite(v)).length;
  const lines = [
    `Revocation propagation: ${r.refusedMs.length} probed + ${r.quietCutMs.length} quiet revocations × ${r.clusters} gateways (lab started in ${secs(r.startMs)} s)`,
    '',
    table(
      ['measure', 'samples', 'p50 ms', 'p99 ms', 'max ms'],
      [
        ['new handshake refused, per gateway (round × gateway)', ...stats(pairs)],
        ['new handshake refused by every gateway (per-round max)', ...stats(perRoundMax)],
        ['open connection cut, per gateway (round × gateway)', ...stats(cuts)],
        ['open connection cut by every gateway (per-round max)', ...stats(r.cutMs.map((round) => Math.max(...round)))],
        ['quiet rounds: open connection cut, per gateway', ...stats(quiet)],
        ['quiet rounds: open connection cut by every gateway', ...stats(r.quietCutMs.map((round) => Math.max(...round)))],
        ['revoke API call (POST /v1/svids/:serial/revoke)', ...stats(r.revokeCallMs)],
        ['probe while admitted (handshake + 400 answer)', ...stats(r.admittedProbeMs)],
      ],
    ),
    '',
    `- new handshake refused: time from sending the revoke call to the end of the first refused probe (a TLS handshake with the revoked SVID and one non-HTTP line,`,
    `  confirmed by a second); probes every ${probeMs} ms per gateway, all gateways in parallel, so this includes up to one probe of resolution`,
    '- open connection cut: a connection opened with the SVID before the revocation and left open; the gateway closes it when it applies the revocation (no polling)',
    '- probes send no valid HTTP request: a request with another cluster\'s SVID would be reported to the svid-in-two-clusters detector, which revokes the identity itself',
    '- quiet rounds: interleaved with the probed ones, same setup without handshake probes: propagation without the probing load on this machine',
    `- samples: ${r.refusedMs.length} rounds × ${r.clusters} gateways each; with ${r.refusedMs.length} per-round maxima the p99 is close to the max`,
    `- refusals seen by the client: ${[...r.refusedReasons].map(([reason, n]) => `${reason} ×${n}`).join(', ')}${never ? `; ${never} (round, gateway) pairs never refused within 10 s` : ''}${uncut ? `; ${uncut} held connections not cut within 10 s` : ''}`,
    '',
    table(
      ['gateway', 'refused p50 ms', 'refused max ms', 'cut p50 ms', 'cut max ms', 'quiet cut p50 ms', 'quiet cut max ms'],
      r.gateways.map((g, i) => {
        const refused = r.refusedMs.map((round) => round[i] as number).filter(Number.isFinite);
        const cut = r.cutMs.map((round) => round[i] as number).filter(Number.isFinite);
        const quietCut = r.quietCutMs.map((round) => round[i] as number).filter(Number.isFinite);
        const p50max = (v: number[]) => [ms(percentile(v, 0.5), 0), ms(v.length ? Math.max(...v) : Number.NaN, 0)];
        return [g, ...p50max(refused), ...p50max(cut), ...p50max(quietCut)];
      }),
    ),
  ];
  const listed = r.crlListed.filter(Boolean).length;
  const rounds = r.crlListed.length;
  lines.push(
    '',
    'Revocation next to peers: how long a revoked certificate keeps working after the revocation',
    '',
    table(
      ['mechanism', 'bound', 'kind'],
      [
        ['interlock: push on the watch stream to every gateway', `p50 ${ms(percentile(pairs, 0.5), 0)} ms, max ${ms(Math.max(...pairs.filter(Number.isFinite)), 0)} ms (new handshakes, probed)`, 'measured above'],
        ['interlock: the same, quiet rounds (open connections cut)', `p50 ${ms(percentile(quiet, 0.5), 0)} ms, max ${ms(Math.max(...quiet.filter(Number.isFinite)), 0)} ms`, 'measured above'],
        ['interlock: its X.509 CRL, fetched once after each revocation', `${listed}/${rounds} listed it; fetch p50 ${ms(percentile(r.crlFetchMs, 0.5), 0)} ms`, 'measured'],
        ['CRL poller, gRPC-Go advancedtls FileWatcherCRLProvider', 'refresh 1 h by default, 1 min at least', 'configuration value'],
        ['relying party that re-fetches at the CRL nextUpdate', '1 h (our CRLs: nextUpdate = now + 1 h)', 'configuration value'],
        ['SPIRE: no X.509-SVID revocation, expiry only', 'default X.509-SVID TTL 1 h', 'configuration value'],
        ['Envoy: CRL in the TLS validation context (file/SDS)', 'until a new CRL is delivered', 'operator-chosen, no default'],
      ],
    ),
    '',
    '- configuration values are not measurements: a poller with refresh interval T lets a revoked certificate work for up to T (plus the fetch), T/2 on average',
  );
  return lines;
}
