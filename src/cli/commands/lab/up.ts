import { resolve } from 'node:path';
import type { Command } from 'commander';
import { findAuditLogs, verifyAuditLog } from '../../../audit/verify.ts';
import { verifyRemoteChain } from '../../../client/audit.ts';
import { DEMO_TOPOLOGY, startLab, type LabWorld } from '../../../lab/world.ts';
import { createNetnsTopology } from '../../../lab/netns.ts';
import { InterlockError } from '../../../errors.ts';
import { runScenarios } from '../../../lab/demo.ts';
import { runDetectionDemo } from '../../../lab/demo-detection.ts';
import { renderDemoReport, type DemoReport } from '../../../lab/report.ts';
import { EXIT_FAILED, EXIT_OK, action } from '../../run.ts';

const DEFAULT_LAB_DIR = '.interlock-lab';

function gatewaysOf(world: LabWorld): DemoReport['gateways'] {
  return Object.fromEntries(
    [...world.clusters.values()].map((c) => [
      c.name,
      { spiffeId: c.gateway.spiffeId, inbound: `${c.gateway.inbound.host}:${c.gateway.inbound.port}`, outbound: `${c.gateway.outbound.host}:${c.gateway.outbound.port}`, admin: `${c.gateway.admin.host}:${c.gateway.admin.port}`, config: c.gateway.configPath },
    ]),
  );
}

/** The control plane's chain, read through the API as an auditor would, verified record by record. */
async function controlPlaneAudit(world: LabWorld) {
  return verifyRemoteChain(world.controlPlane.admin, 'control-plane');
}

async function runDemo(world: LabWorld): Promise<DemoReport> {
  const scenarios = await runScenarios(world);
  // Last: it revokes the frontend's SVID on purpose.
  const detection = await runDetectionDemo(world);
  const audit = findAuditLogs(world.dir).map((path) => verifyAuditLog(path));
  const cpAudit = await controlPlaneAudit(world);
  return {
    ok: scenarios.every((s) => s.ok) && detection.ok && audit.every((a) => a.ok) && cpAudit.ok,
    dir: world.dir,
    policyFile: world.policyFile,
    controlPlane: {
      url: world.controlPlane.url,
      spiffeId: world.controlPlane.spiffeId,
      policyVersion: world.policy.version,
      policyProposedBy: world.policy.proposedBy,
      policyActivatedBy: world.policy.decidedBy,
      audit: cpAudit,
    },
    gateways: gatewaysOf(world),
    scenarios,
    detection,
    audit,
  };
}

export function registerLabUp(lab: Command): void {
  lab
    .command('up')
    .description('start a multi-cluster lab on loopback: a CA, clusters east and west, their gateways and sample services')
    .option('--dir <dir>', 'folder for all lab state (wiped on start)', DEFAULT_LAB_DIR)
    .option('--demo', 'run the demo calls, print what happened, stop the lab, exit 0 only if every call went as expected')
    .option('--json', 'with --demo: print the report as JSON')
    .option('--netns', 'put each cluster in its own Linux network namespace, joined by a bridge (needs root); see docs/reliability.md')
    .action(
      action(async (options: { dir: string; demo?: boolean; json?: boolean; netns?: boolean }) => {
        if (options.netns && options.demo) {
          throw new InterlockError('IL_ERR_USAGE', "--demo probes the gateways' inbound listeners from this host, which --netns puts on the namespaces' own wan", { field: '--netns', hint: 'interlock chaos run --all runs the attacks from a host on that wan' });
        }
        const network = options.netns ? createNetnsTopology(DEMO_TOPOLOGY.map((c) => c.name)) : undefined;
        const world = await startLab({ dir: resolve(options.dir), ...(network ? { network } : {}) }).catch((error: unknown) => {
          network?.close();
          throw error;
        });
        if (options.demo) {
          try {
            const report = await runDemo(world);
            process.stdout.write(options.json ? JSON.stringify(report, null, 2) + '\n' : renderDemoReport(report));
            return report.ok ? EXIT_OK : EXIT_FAILED;
          } finally {
            await world.close();
          }
        }
        const east = world.clusters.get('east')!;
        process.stdout.write(
          [
            `lab running in ${world.dir}${network ? ` (network namespaces ${[...network.clusters.values()].map((c) => c.namespace).join(', ')}; \`ip netns exec <ns> …\` to look inside)` : ''}`,
            ...Object.entries(gatewaysOf(world)).map(([name, g]) => `  ${name}: inbound ${g.inbound}, outbound ${g.outbound}, admin ${g.admin}`),
            `check them: interlock check ${Object.values(gatewaysOf(world)).map((g) => `--gateway ${g.admin}`).join(' ')}`,
            '',
            `control plane ${world.controlPlane.url}; admin token in ${world.dir}/control-plane/admin.token, bundle in ${world.controlPlane.bundleFile}`,
            `dashboard ${world.controlPlane.url}/dashboard (sign in with the admin token; your browser must trust ${world.controlPlane.bundleFile}, see docs/dashboard.md)`,
            '',
            'call west\'s billing as east\'s frontend:',
            `  curl --cert ${east.identities.get('frontend')!.files.cert} --key ${east.identities.get('frontend')!.files.key} \\`,
            `       -k --tlsv1.3 -H 'Host: billing.west.interlock' https://${east.gateway.outbound.host}:${east.gateway.outbound.port}/invoices/42`,
            "  (-k: curl can only check DNS names, and gateways are identified by SPIFFE ID; the gateway still verifies you)",
            'press Ctrl-C to stop',
            '',
          ].join('\n'),
        );
        await new Promise<void>((done) => {
          process.once('SIGINT', done);
          process.once('SIGTERM', done);
        });
        await world.close();
        network?.close();
        return EXIT_OK;
      }),
    );
}
