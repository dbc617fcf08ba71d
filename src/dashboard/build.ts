import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

/**
 * The project's own build of the dashboard page: esbuild bundles
 * page/main.ts with Preact, uPlot and the CSS into one minified JS file and
 * one CSS file, named by content hash, in memory. The control plane runs it
 * on the first request for the page (about 100-300 ms), so `npm start` from
 * a fresh clone needs no build step, no CDN and no network, and processes
 * that never serve the page never pay for it.
 */

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(HERE, '../..');
export const ASSET_PREFIX = '/dashboard/assets/';

export interface DashboardAsset {
  readonly body: Buffer;
  readonly contentType: string;
}

export interface DashboardBundle {
  readonly html: string;
  /** By file name (`main-<hash>.js`, `main-<hash>.css`). */
  readonly assets: ReadonlyMap<string, DashboardAsset>;
  readonly buildMs: number;
}

const CONTENT_TYPES: Record<string, string> = { js: 'text/javascript; charset=utf-8', css: 'text/css; charset=utf-8' };

function page(script: string, stylesheet: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>Interlock dashboard</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="${ASSET_PREFIX}${stylesheet}">
<script type="module" src="${ASSET_PREFIX}${script}"></script>
</head>
<body>
<div id="app"><noscript>The Interlock dashboard needs JavaScript.</noscript></div>
</body>
</html>
`;
}

export async function buildDashboard(): Promise<DashboardBundle> {
  const started = performance.now();
  const result = await build({
    entryPoints: [join(HERE, 'page', 'main.ts')],
    absWorkingDir: ROOT,
    bundle: true,
    minify: true,
    format: 'esm',
    platform: 'browser',
    target: ['es2020', 'chrome100', 'firefox100', 'safari15'],
    outdir: join(ROOT, '.dashboard-build'), // nothing is written (write: false); esbuild needs it to name the outputs
    entryNames: '[name]-[hash]',
    write: false,
    legalComments: 'none',
    logLevel: 'silent',
  });
  const assets = new Map<string, DashboardAsset>();
  for (const file of result.outputFiles) {
    const name = basename(file.path);
    const type = CONTENT_TYPES[name.split('.').pop()!];
    if (type) assets.set(name, { body: Buffer.from(file.contents), contentType: type });
  }
  const script = [...assets.keys()].find((n) => n.endsWith('.js'));
  const stylesheet = [...assets.keys()].find((n) => n.endsWith('.css'));
  if (!script || !stylesheet) throw new Error(`the dashboard build produced ${[...assets.keys()].join(', ') || 'nothing'}; expected one .js and one .css`);
  return { html: page(script, stylesheet), assets, buildMs: performance.now() - started };
}
