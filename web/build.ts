/**
 * Builds the review console into static files the gateway serves: one minified ES module and one stylesheet, both
 * with content-hashed names (cached for good), and the index.html that loads them (never cached).
 * `npm run build:web` writes web/dist; tests build into a folder of their own.
 */
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

import { build } from 'esbuild';

export const WEB_ROOT = fileURLToPath(new URL('.', import.meta.url));
export const DEFAULT_OUT_DIR = join(WEB_ROOT, 'dist');

export interface WebBuild {
  outDir: string;
  /** Every file written, with its size in bytes. */
  files: { path: string; bytes: number }[];
}

export async function buildWeb(outDir: string = DEFAULT_OUT_DIR): Promise<WebBuild> {
  await rm(outDir, { recursive: true, force: true });
  await mkdir(join(outDir, 'assets'), { recursive: true });
  const result = await build({
    entryPoints: { app: join(WEB_ROOT, 'src/main.ts') },
    bundle: true,
    minify: true,
    format: 'esm',
    // Browsers since 2022 (Safari 15.4, Chrome 94, Firefox 93), phones included; the code uses nothing newer.
    target: 'es2022',
    entryNames: 'assets/[name]-[hash]',
    outdir: outDir,
    metafile: true,
    legalComments: 'none',
    logLevel: 'warning',
  });
  const outputs = Object.entries(result.metafile.outputs).map(([path, meta]) => ({ path, bytes: meta.bytes }));
  const asset = (extension: string) => {
    const found = outputs.find((output) => output.path.endsWith(extension));
    if (!found) throw new Error(`the console build wrote no ${extension} file`);
    return `/assets/${basename(found.path)}`;
  };
  const html = indexHtml(asset('.js'), asset('.css'));
  await writeFile(join(outDir, 'index.html'), html);
  return { outDir, files: [...outputs, { path: join(outDir, 'index.html'), bytes: Buffer.byteLength(html) }] };
}

function indexHtml(script: string, stylesheet: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<title>Airlock</title>
<link rel="stylesheet" href="${stylesheet}">
<script type="module" src="${script}"></script>
</head>
<body>
<a class="skip-link" href="#main">Skip to content</a>
<div id="app"><p class="boot">Loading the Airlock console…</p></div>
</body>
</html>
`;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const built = await buildWeb();
  const summary = built.files.map((file) => `${file.path.replace(`${WEB_ROOT}`, 'web/')} ${(file.bytes / 1024).toFixed(1)} kB`);
  process.stdout.write(`${summary.join('\n')}\n`);
}
