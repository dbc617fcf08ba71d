import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { InterlockError } from '../../../errors.ts';
import { apiRequest } from '../../../client/api.ts';
import { writeFileAtomic } from '../../../util/files.ts';
import { verifyEvidence } from '../../../audit/evidence.ts';
import { parseCertificatesPem } from '../../../pki/x509.ts';
import type { EvidenceBundle, IncidentRecord } from '../../../server/incidents.ts';
import { EXIT_FAILED, action } from '../../run.ts';
import { connectionFrom, output, table, withApi, type ApiOptions } from '../../api-options.ts';

function renderIncident(incident: IncidentRecord): string {
  const scope = incident.scope.cluster ? `cluster ${incident.scope.cluster}` : incident.scope.spiffeId!;
  const lines = [`incident ${incident.id} (${incident.status}): compromise of ${scope}`, `  reason: ${incident.reason}`, `  trigger: ${incident.trigger}, opened by ${incident.openedBy}`];
  for (const step of incident.timeline) {
    const detail = Object.entries(step.detail)
      .filter(([key]) => key !== 'serials')
      .map(([key, value]) => `${key}=${typeof value === 'object' ? JSON.stringify(value) : String(value)}`)
      .join(' ');
    lines.push(`  ✔ ${step.at}  ${step.step.padEnd(17)} ${detail}`);
  }
  return lines.join('\n');
}

async function saveEvidence(options: ApiOptions, id: string, file: string): Promise<EvidenceBundle> {
  const { body } = await apiRequest<EvidenceBundle>(connectionFrom(options), 'GET', `/v1/incidents/${encodeURIComponent(id)}/evidence`);
  writeFileAtomic(file, JSON.stringify(body, null, 2) + '\n', 0o600);
  return body;
}

export function registerIncident(program: Command): void {
  const incident = program.command('incident').description('compromise remediation and its evidence (role key-custodian)');

  withApi(incident.command('compromise'))
    .description('revoke everything in scope, rotate the keys behind it, ask healthy holders to re-attest, optionally isolate the cluster; prints the timeline')
    .option('--cluster <name>', 'a whole cluster is compromised: revoke all its SVIDs and replace its intermediate CA at once')
    .option('--id <spiffe-id>', 'one identity is compromised: revoke all its SVIDs')
    .option('--isolate', 'also cut the cluster off from every other cluster until `interlock incident resolve`')
    .requiredOption('--reason <text>', 'why (recorded in the audit chain)')
    .option('--evidence <file>', 'write the evidence bundle (timeline, audit excerpt, signed checkpoint) here')
    .action(
      action(async (options: ApiOptions & { cluster?: string; id?: string; isolate?: boolean; reason: string; evidence?: string }) => {
        if (Boolean(options.cluster) === Boolean(options.id)) throw new InterlockError('IL_ERR_USAGE', 'give exactly one of --cluster or --id', { field: '--cluster' });
        const body = { ...(options.cluster ? { cluster: options.cluster } : { spiffeId: options.id }), reason: options.reason, ...(options.isolate ? { isolate: true } : {}) };
        const { body: record } = await apiRequest<IncidentRecord>(connectionFrom(options), 'POST', '/v1/incidents/compromise', body);
        const evidence = options.evidence ? await saveEvidence(options, record.id, options.evidence) : undefined;
        output(options, record, (r) => renderIncident(r) + (evidence ? `\nevidence: ${options.evidence} (${evidence.audit.records.length} audit records up to #${evidence.audit.records.at(-1)!.seq}, signed checkpoint)` : ''));
      }),
    );

  withApi(incident.command('list'))
    .description('incidents, open and resolved')
    .action(
      action(async (options: ApiOptions) => {
        const { body } = await apiRequest<IncidentRecord[]>(connectionFrom(options), 'GET', '/v1/incidents');
        output(options, body, (rows) =>
          table(
            ['id', 'status', 'scope', 'trigger', 'opened'],
            rows.map((i) => [i.id, i.status, i.scope.cluster ? `cluster ${i.scope.cluster}` : i.scope.spiffeId!, i.trigger, i.timeline[0]!.at]),
          ),
        );
      }),
    );

  withApi(incident.command('show'))
    .description("an incident's timeline")
    .argument('<id>', 'incident id')
    .action(
      action(async (id: string, options: ApiOptions) => {
        const { body } = await apiRequest<IncidentRecord>(connectionFrom(options), 'GET', `/v1/incidents/${encodeURIComponent(id)}`);
        output(options, body, renderIncident);
      }),
    );

  withApi(incident.command('evidence'))
    .description('write the evidence bundle of an incident: its timeline and the audit chain since, under a fresh signed checkpoint')
    .argument('<id>', 'incident id')
    .requiredOption('--out <file>', 'where to write it')
    .action(
      action(async (id: string, options: ApiOptions & { out: string }) => {
        const evidence = await saveEvidence(options, id, options.out);
        output(options, { file: options.out, records: evidence.audit.records.length }, (r) => `evidence written to ${r.file}: ${r.records} audit records, signed checkpoint`);
      }),
    );

  withApi(incident.command('resolve'))
    .description('close an incident (and reconnect an isolated cluster)')
    .argument('<id>', 'incident id')
    .requiredOption('--note <text>', 'what was done (recorded in the audit chain)')
    .action(
      action(async (id: string, options: ApiOptions & { note: string }) => {
        const { body } = await apiRequest<IncidentRecord>(connectionFrom(options), 'POST', `/v1/incidents/${encodeURIComponent(id)}/resolve`, { note: options.note });
        output(options, body, renderIncident);
      }),
    );
}

export function registerAuditVerifyEvidence(audit: Command): void {
  audit
    .command('verify-evidence')
    .description('check an evidence bundle offline: every audit record linked, the head equal to the checkpoint, the checkpoint signed by the control plane')
    .argument('<file>', 'evidence bundle (JSON) from interlock incident')
    .requiredOption('--ca-file <file>', "the control plane's trust bundle (PEM) at the time the evidence was written")
    .option('--json', 'print the result as JSON')
    .action(
      action(async (file: string, options: { caFile: string; json?: boolean }) => {
        let bundle: unknown;
        try {
          bundle = JSON.parse(readFileSync(file, 'utf8'));
        } catch (error) {
          throw new InterlockError('IL_ERR_EVIDENCE_INVALID', `${file} is not readable JSON: ${(error as Error).message}`, { field: 'file' });
        }
        const roots = parseCertificatesPem(readFileSync(options.caFile, 'utf8'));
        let result;
        try {
          result = await verifyEvidence(bundle, roots, new Date());
        } catch (error) {
          // A bundle that does not verify is a failed check (exit 1), not bad input.
          if (!(error instanceof InterlockError)) throw error;
          process.stdout.write(options.json ? JSON.stringify({ file, ok: false, code: error.code, reason: error.message }, null, 2) + '\n' : `FAILED  ${file}\n`);
          process.stderr.write(`interlock: error ${error.toLine()}\n`);
          return EXIT_FAILED;
        }
        const text = `ok      ${file}: incident ${result.incident} (${result.steps.join(' → ')}), ${result.records} audit records up to #${result.checkpoint.seq}, checkpoint signed ${result.checkpoint.at}`;
        process.stdout.write(options.json ? JSON.stringify({ file, ok: true, ...result }, null, 2) + '\n' : text + '\n');
        return 0;
      }),
    );
}
