import { Command, CommanderError } from 'commander';
import { InterlockError } from '../errors.ts';
import { registerCaInit } from './commands/ca/init.ts';
import { registerCaKeygen } from './commands/ca/keygen.ts';
import { registerCaAddCluster } from './commands/ca/add-cluster.ts';
import { registerCaRotate } from './commands/ca/rotate.ts';
import { registerSvidIssue } from './commands/svid/issue.ts';
import { registerRevoke, registerSvidList } from './commands/svid/list.ts';
import { registerCluster } from './commands/cluster/cluster.ts';
import { registerEntry } from './commands/entry/entry.ts';
import { registerToken } from './commands/token/token.ts';
import { registerAdmin } from './commands/admin/admin.ts';
import { registerPolicy } from './commands/policy/policy.ts';
import { registerPolicyRollout } from './commands/policy/rollout.ts';
import { registerPolicyTest } from './commands/policy/test.ts';
import { registerGateway } from './commands/gateway/run.ts';
import { registerServer } from './commands/server/run.ts';
import { registerCheck } from './commands/check/check.ts';
import { registerAuditVerify } from './commands/audit/verify.ts';
import { registerAuditVerifyRemote } from './commands/audit/verify-remote.ts';
import { registerAuditExport } from './commands/audit/export.ts';
import { registerLabUp } from './commands/lab/up.ts';
import { registerAuditVerifyEvidence, registerIncident } from './commands/incident/incident.ts';
import { registerDeploy } from './commands/deploy/render.ts';
import { registerDeclarative } from './commands/apply/apply.ts';
import { registerReport } from './commands/report/report.ts';
import { registerChaos } from './commands/chaos/run.ts';
import { reportError } from './run.ts';

export function buildProgram(): Command {
  const program = new Command('interlock')
    .description('Interlock: mTLS 1.3 with SPIFFE identities, Cedar policy and a tamper-evident audit chain between Kubernetes clusters')
    .version('0.1.0')
    .exitOverride()
    // Options belong to the command they follow, so `server --config` and `server bundle --config` do not clash.
    .enablePositionalOptions()
    // Usage errors follow the same one-line format as every other error.
    .configureOutput({
      outputError: (message, write) => write(`interlock: error IL_ERR_USAGE: ${message.replace(/^error: /, '').trim()} (hint: add --help for usage)\n`),
    });

  const ca = program.command('ca').description('the certificate authority: root and per-cluster intermediates');
  registerCaInit(ca);
  registerCaKeygen(ca);
  registerCaAddCluster(ca);
  registerCaRotate(ca);

  const svid = program.command('svid').description('X.509-SVIDs for workloads and gateways');
  registerSvidIssue(svid);
  registerSvidList(svid);
  registerRevoke(program);
  registerCluster(program);
  registerEntry(program);
  registerToken(program);
  registerAdmin(program);
  registerPolicy(program);
  const policy = program.commands.find((c) => c.name() === 'policy')!;
  registerPolicyRollout(policy);
  registerPolicyTest(policy);

  registerServer(program);
  registerGateway(program);
  registerCheck(program);
  registerIncident(program);
  registerDeclarative(program);
  registerDeploy(program);
  registerReport(program);

  const audit = program.command('audit').description('the hash-chained audit log');
  registerAuditVerify(audit);
  registerAuditVerifyRemote(audit);
  registerAuditVerifyEvidence(audit);
  registerAuditExport(audit);

  const lab = program.command('lab').description('a whole multi-cluster world on one machine');
  registerLabUp(lab);
  registerChaos(program);

  // Every command, however deep, reports usage errors through exitOverride.
  const all = (command: Command): Command[] => [command, ...command.commands.flatMap(all)];
  for (const command of all(program)) command.exitOverride();
  return program;
}

async function main(argv: string[]): Promise<void> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
  } catch (error) {
    if (error instanceof CommanderError) {
      // --help and --version end here with exit code 0; usage errors were already printed.
      if (error.exitCode === 0 || error.code === 'commander.helpDisplayed' || error.code === 'commander.help') {
        process.exitCode = 0;
        return;
      }
      process.exitCode = 2;
      return;
    }
    reportError(error instanceof InterlockError ? error : error);
  }
}

await main(process.argv);
