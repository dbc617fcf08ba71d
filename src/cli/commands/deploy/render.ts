import { join } from 'node:path';
import { Option, type Command } from 'commander';
import { componentFile, componentText, kustomizationText, renderComponents, type ManifestFormat } from '../../../deploy/render.ts';
import { loadValues, parseValues } from '../../../deploy/values.ts';
import { writeFileAtomic } from '../../../util/files.ts';
import { action } from '../../run.ts';

export function registerDeploy(program: Command): void {
  const deploy = program.command('deploy').description('Kubernetes manifests for the control plane and the gateways (docs/deploy.md)');
  deploy
    .command('render')
    .description('render validated Kubernetes manifests from a values file: one multi-document file per component, or all of them on stdout')
    .option('--values <file>', 'values file (YAML), see deploy/values.example.yaml; default: every value at its default')
    .option('--out <dir>', 'write namespace, control-plane and gateway-<cluster> files and a kustomization.yaml here instead of stdout')
    .addOption(new Option('--format <format>', 'yaml (multi-document) or json (a v1 List)').choices(['yaml', 'json']).default('yaml'))
    .action(
      action((options: { values?: string; out?: string; format: ManifestFormat }) => {
        const values = options.values ? loadValues(options.values) : parseValues({}, 'defaults');
        const components = renderComponents(values);
        const count = (n: number) => `${n} object${n === 1 ? '' : 's'}`;
        if (!options.out) {
          // Manifests on stdout (for `| kubectl apply -f -`), the summary on stderr.
          if (options.format === 'json') {
            process.stdout.write(JSON.stringify({ apiVersion: 'v1', kind: 'List', items: components.flatMap((c) => c.objects.map((o) => o.toJSON())) }, null, 2) + '\n');
          } else {
            process.stdout.write(components.map((c) => componentText(c, 'yaml')).join(''));
          }
          process.stderr.write(`rendered ${components.map((c) => `${c.name} (${count(c.objects.length)})`).join(', ')}\n`);
          return;
        }
        for (const component of components) {
          const path = join(options.out, componentFile(component, options.format));
          writeFileAtomic(path, componentText(component, options.format), 0o644);
          process.stdout.write(`wrote ${path}: ${count(component.objects.length)} (${component.objects.map((o) => o.kind).join(', ')})\n`);
        }
        const kustomization = join(options.out, 'kustomization.yaml');
        writeFileAtomic(kustomization, kustomizationText(components, options.format), 0o644);
        process.stdout.write(`wrote ${kustomization}\n`);
      }),
    );
}
