/** One entry point for the CLI: a report object to Markdown or JSON text. */
import { InterlockError } from '../errors.ts';
import type { InventoryReport } from './inventory.ts';
import type { RiskRegisterReport } from './risk-register.ts';
import type { TrustBoundariesReport } from './trust-boundaries.ts';
import { inventoryMarkdown, riskRegisterMarkdown, trustBoundariesMarkdown } from './markdown.ts';

export const REPORT_KINDS = ['inventory', 'trust-boundaries', 'risk-register'] as const;
export type ReportKind = (typeof REPORT_KINDS)[number];
export const REPORT_FORMATS = ['markdown', 'json'] as const;
export type ReportFormat = (typeof REPORT_FORMATS)[number];

export type Report = InventoryReport | TrustBoundariesReport | RiskRegisterReport;

export function checkKind(kind: string): ReportKind {
  if (!(REPORT_KINDS as readonly string[]).includes(kind)) {
    throw new InterlockError('IL_ERR_USAGE', `no report "${kind}"; choose one of ${REPORT_KINDS.join(', ')}`, { field: 'kind' });
  }
  return kind as ReportKind;
}

export function checkFormat(format: string): ReportFormat {
  if (!(REPORT_FORMATS as readonly string[]).includes(format)) {
    throw new InterlockError('IL_ERR_USAGE', `--format must be markdown or json, got ${format}`, { field: '--format' });
  }
  return format as ReportFormat;
}

export function renderReport(report: Report, format: ReportFormat): string {
  if (format === 'json') return JSON.stringify(report, null, 2) + '\n';
  switch (report.kind) {
    case 'inventory':
      return inventoryMarkdown(report);
    case 'trust-boundaries':
      return trustBoundariesMarkdown(report);
    case 'risk-register':
      return riskRegisterMarkdown(report);
  }
}
