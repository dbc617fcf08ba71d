import type { AuditVerification } from '../audit/verify.ts';
import type { RecordChainVerification } from '../audit/verify-records.ts';
import type { ScenarioResult } from './demo.ts';
import type { DetectionReport } from './demo-detection.ts';

export interface DemoReport {
  readonly ok: boolean;
  readonly dir: string;
  readonly policyFile: string;
  readonly controlPlane: { url: string; spiffeId: string; policyVersion: number; policyProposedBy: string; policyActivatedBy: string | null; audit: RecordChainVerification };
  readonly gateways: Record<string, { spiffeId: string; inbound: string; outbound: string; admin: string; config: string }>;
  readonly scenarios: readonly ScenarioResult[];
  readonly detection: DetectionReport;
  readonly audit: readonly AuditVerification[];
}

function truncate(text: string, width: number): string {
  return text.length <= width ? text : `${text.slice(0, width - 1)}…`;
}

function table(headers: string[], rows: string[][], maxWidths: number[]): string {
  const widths = headers.map((h, i) => Math.min(maxWidths[i] ?? 80, Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length))));
  const line = (cells: string[]) => cells.map((c, i) => truncate(c, widths[i]!).padEnd(widths[i]!)).join('  ').trimEnd();
  return [line(headers), line(widths.map((w) => '─'.repeat(w))), ...rows.map(line)].join('\n');
}

/** `spiffe://east.acme.internal/ns/shop/sa/frontend` → `east/ns/shop/sa/frontend`: enough to read in a table. */
function shortId(id: string): string {
  return id.startsWith('spiffe://') ? id.replace(/^spiffe:\/\/([a-z0-9-]+)[^/]*/, '$1') : id;
}

function outcomeLabel(r: ScenarioResult): string {
  if (r.outcome === 'allow') return `allowed ${r.status ?? ''}`.trim();
  if (r.outcome === 'deny') return `denied ${r.status ?? ''}`.trim();
  if (r.outcome === 'handshake-refused') return 'TLS refused';
  return 'error';
}

function renderDetection(d: DetectionReport): string[] {
  const mark = (ok: boolean) => (ok ? '✔' : '✘');
  return [
    'Compromise detection',
    `  a copy of ${shortId(d.stolenId)}'s SVID and key, used at the west gateway: ${d.refusedAtWest ? `refused (${d.refusedAtWest})` : 'ACCEPTED'}`,
    `  ${mark(d.incident !== null)} detector svid-in-two-clusters: ${d.incident ? `incident ${d.incident.slice(0, 8)}… opened, the SVID revoked everywhere, ${d.detectedMs} ms after the attempt` : 'no incident'}`,
    `  ${mark(d.reattestedMs !== null)} the real frontend attested again with a fresh key and SVID${d.reattestedMs !== null ? ` (${d.reattestedMs} ms)` : ': NOT re-attested'}`,
    `  ${mark(d.stolenRefusedAtHome)} the stolen copy is refused at its own cluster's gateway too`,
    `  ${mark(d.evidence?.verified === true)} evidence bundle: ${d.evidence ? `${d.evidence.records} audit records under a signed checkpoint, ${d.evidence.verified ? 'verifies' : 'DOES NOT VERIFY'}` : 'none'}`,
  ];
}

export function renderDemoReport(report: DemoReport): string {
  const rows = report.scenarios.map((r) => [
    String(r.n),
    r.ok ? '✔' : '✘',
    r.title,
    shortId(r.caller),
    `${r.request} → ${r.target}`,
    `${r.expected}`,
    outcomeLabel(r),
    r.code ?? '',
    r.auditRef ?? '',
  ]);
  const details = report.scenarios.map((r) => `  ${String(r.n).padStart(2)}  ${r.detail}`);
  const passed = report.scenarios.filter((r) => r.ok).length;
  const gateways = Object.entries(report.gateways).map(([name, g]) => `  ${name.padEnd(5)} inbound ${g.inbound}  outbound ${g.outbound}  (${g.spiffeId})`);
  const cpAudit = report.controlPlane.audit;
  const audit = [
    cpAudit.ok ? `  ok      control plane store  ${cpAudit.count} records` : `  BROKEN  control plane store  at record ${cpAudit.badSeq}: ${cpAudit.reason}`,
    ...report.audit.map((a) => (a.ok ? `  ok      ${a.path}  ${a.count} records` : `  BROKEN  ${a.path}  at record ${a.badSeq}: ${a.reason}`)),
  ];
  return [
    'Interlock lab: a control plane and two clusters on loopback; every identity attested, mTLS 1.3 between gateways, Cedar policy at each inbound edge',
    '',
    `Control plane  ${report.controlPlane.url}  (${report.controlPlane.spiffeId})`,
    `Policy         version ${report.controlPlane.policyVersion}, proposed by ${report.controlPlane.policyProposedBy}, activated by ${report.controlPlane.policyActivatedBy ?? '?'} (${report.policyFile})`,
    'Gateways (east attested with a single-use join token, west with a Kubernetes service-account token, as did every service and workload)',
    ...gateways,
    '',
    table(['#', 'ok', 'scenario', 'caller', 'request → target', 'expected', 'outcome', 'code', 'audit'], rows, [2, 2, 34, 34, 52, 17, 14, 32, 7]),
    '',
    'What each side saw',
    ...details,
    '',
    ...renderDetection(report.detection),
    '',
    'Audit chains',
    ...audit,
    '',
    report.ok
      ? `${passed}/${report.scenarios.length} calls had the expected outcome; the stolen SVID was detected and revoked; every audit chain verifies.`
      : `FAILED: ${passed}/${report.scenarios.length} calls had the expected outcome${report.detection.ok ? '' : '; compromise detection did not go as expected'}${report.audit.every((a) => a.ok) && cpAudit.ok ? '' : '; an audit chain is broken'}.`,
    `Everything is under ${report.dir}`,
    '',
  ].join('\n');
}
