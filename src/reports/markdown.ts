/**
 * Markdown renderings of the three reports (GitHub-flavoured tables). The
 * JSON rendering is the report object itself; see render.ts.
 */
import type { InventoryReport, CertificateRow } from './inventory.ts';
import type { RiskRegisterReport } from './risk-register.ts';
import type { TrustBoundariesReport } from './trust-boundaries.ts';
import type { KeyFacts } from './key-facts.ts';

/** A table cell: pipes escaped, line breaks flattened. */
export function cell(value: string | number | null | undefined): string {
  if (value === null || value === undefined || value === '') return '–';
  return String(value).replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');
}

export function mdTable(headers: readonly string[], rows: ReadonlyArray<ReadonlyArray<string | number | null | undefined>>): string {
  if (rows.length === 0) return '_(none)_';
  return [`| ${headers.join(' | ')} |`, `|${headers.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.map(cell).join(' | ')} |`)].join('\n');
}

/** "expired", "42 min", "5.5 h", "364 d". */
export function humanLeft(seconds: number | null): string {
  if (seconds === null) return '–';
  if (seconds <= 0) return 'expired';
  if (seconds < 3_600) return `${Math.round(seconds / 60)} min`;
  if (seconds < 2 * 86_400) return `${Math.round((seconds / 3_600) * 10) / 10} h`;
  return `${Math.round(seconds / 86_400)} d`;
}

function keyText(key: KeyFacts): string {
  const type = key.curve ? `${key.keyType} ${key.curve}` : `${key.keyType}${key.bits ? ` ${key.bits}` : ''}`;
  return key.source === 'certificate' ? type : `${type} (issuance policy)`;
}

const certCells = (r: CertificateRow) => [keyText(r.key), r.key.signatureAlgorithm, r.notAfter, humanLeft(r.secondsLeft)];

export function trustBoundariesMarkdown(r: TrustBoundariesReport): string {
  const policy = r.policy ? `policy version ${r.policy.version} (${r.policy.digest.slice(0, 19)}…, ${r.policy.policyIds.length} policies)` : 'no active policy';
  const out = [
    '# Trust boundaries',
    '',
    `Generated ${r.generatedAt} from ${policy}; services from ${r.servicesSource.detail}.`,
    '',
    '## Clusters',
    '',
    mdTable(
      ['cluster', 'trust domain', 'workload identities', 'services', 'isolated'],
      r.clusters.map((c) => [c.name, c.trustDomain, c.identities.length, c.services.join(', '), c.isolated ? 'yes' : 'no']),
    ),
    '',
    `## Allowed cross-cluster paths (${r.allowed.length})`,
    '',
    r.allowed.length ? r.allowed.map((p) => `- ${p.summary}`).join('\n') : '_(none: no workload identity may reach a service of another cluster)_',
    '',
    '## Boundaries',
    '',
    mdTable(['from', 'to', 'identity × service pairs', 'with an allowed path'], r.boundaries.map((b) => [b.from, b.to, b.pairs, b.allowed])),
    '',
    '## Denied',
    '',
    `${r.denied.pairs} pairs have no allowed path: ${r.denied.byDefault} denied by default (no policy permits), ${r.denied.byForbid} by a forbid, ${r.denied.byEvaluationError} by an evaluation error (fail closed).`,
  ];
  if (r.denied.forbids.length) out.push('', mdTable(['forbid', 'pairs it denied'], r.denied.forbids.map((f) => [f.policy, f.pairs])));
  out.push(
    '',
    '## How this was derived',
    '',
    `Each registered workload identity (gateways excluded) × each service of another cluster was evaluated with the gateway's PDP and request shape: ${r.enumeration.evaluations} decisions.`,
    `A context field was varied only for pairs whose policies read it. Methods: ${[...r.enumeration.methods, 'one no policy mentions'].join(', ')}. Paths: ${[...r.enumeration.paths, 'one no policy mentions'].join(', ')}. Purposes: ${['none', ...r.enumeration.purposes.map((p) => JSON.stringify(p)), 'one no policy mentions'].join(', ')}.`,
    ...r.notes.map((n) => `- ${n}`),
  );
  return out.join('\n') + '\n';
}

export function inventoryMarkdown(r: InventoryReport): string {
  const out = [
    '# Inventory',
    '',
    `Generated ${r.generatedAt}.`,
    '',
    '## Certificate authorities',
    '',
    mdTable(['kind', 'cluster', 'serial', 'status', 'key', 'signature', 'not after', 'left'], r.authorities.map((a) => [a.kind, a.cluster, a.serial, a.status, ...certCells(a)])),
    '',
    '## SVIDs',
  ];
  for (const group of r.svids) {
    out.push('', `### ${group.cluster}${group.trustDomain ? ` (${group.trustDomain})` : ''}`, '', mdTable(['role', 'SPIFFE ID', 'serial', 'key', 'signature', 'not after', 'left', 'attested by'], group.svids.map((s) => [s.role, s.spiffeId, s.serial, ...certCells(s), s.method])));
  }
  out.push(
    '',
    '## TLS',
    '',
    `- versions: ${r.tls.minVersion === r.tls.maxVersion ? `${r.tls.minVersion} only` : `${r.tls.minVersion} to ${r.tls.maxVersion}`}`,
    `- cipher suites: ${r.tls.cipherSuites.join(', ')}`,
    `- key-exchange groups: ${r.tls.groups}`,
    `- client certificate: ${r.tls.clientCertificateRequested ? 'required on every listener (mutual TLS)' : 'not requested'}`,
    `- from: ${r.tls.source}`,
    '',
    '## Drift',
    '',
    r.drift.declaredSource ? `Compared with the declared configuration in ${r.drift.declaredSource}, and with the registrations.` : 'Compared with the registrations (no --declared directory given).',
    '',
    mdTable(['kind', 'subject', 'detail'], r.drift.findings.map((f) => [f.kind, f.subject, f.detail])),
  );
  if (r.notes.length) out.push('', '## Notes', '', ...r.notes.map((n) => `- ${n}`));
  return out.join('\n') + '\n';
}

export function riskRegisterMarkdown(r: RiskRegisterReport): string {
  const s = r.summary;
  const out = [
    '# Risk register',
    '',
    `Generated ${r.generatedAt} from ${r.sources.threatModel}; test results from ${r.sources.testResults}; chaos results from ${r.sources.chaosResults ?? '(none given)'}.`,
    '',
    `${s.threats} threats: ${s.proven} proven by evidence that last passed, ${s.flagged} flagged (${s.withoutEvidence} without evidence, ${s.withFailedEvidence} with failed evidence, ${s.withEvidenceNotRun} with evidence that never ran, ${s.withMissingEvidence} naming missing files).`,
    '',
    mdTable(
      ['threat', 'title', 'boundary', 'STRIDE', 'evidence passed', 'status'],
      r.threats.map((t) => [t.id, t.title, t.boundary, t.stride, `${t.evidence.filter((e) => e.status === 'passed').length}/${t.evidence.length}`, t.status === 'proven' ? 'proven' : `**flagged**`]),
    ),
  ];
  for (const t of r.threats) {
    out.push('', `## ${t.id} — ${t.title}`, '', `- Boundary: ${t.boundary}`, `- Asset: ${t.asset}`, `- STRIDE: ${t.stride}`, '- Mitigations:', ...t.mitigations.map((m) => `  - ${m}`), `- Residual risk: ${t.residualRisk}`);
    if (t.flags.length) out.push(...t.flags.map((f) => `- **Flag:** ${f}`));
    out.push('', mdTable(['evidence', 'last result', 'last run', 'detail'], t.evidence.map((e) => [e.kind === 'chaos' ? `chaos ${e.name}` : e.name, e.status, e.lastRun, e.detail])));
  }
  return out.join('\n') + '\n';
}
