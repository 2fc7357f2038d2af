// Bundles src/main.js (and the CSS it imports) into dist/assets with esbuild, and writes
// dist/index.html. No network: every import resolves in node_modules (npm ci, lock file).
import { build } from 'esbuild';
import { copyFileSync, mkdirSync, rmSync } from 'node:fs';

const out = new URL('./dist/', import.meta.url).pathname;
rmSync(out, { recursive: true, force: true });
mkdirSync(`${out}assets`, { recursive: true });
await build({
  entryPoints: { app: 'src/main.js' },
  bundle: true,
  format: 'esm',
  splitting: true,                 // cytoscape in its own chunk, fetched by the pages that draw graphs
  chunkNames: 'chunk-[hash]',
  minify: true,
  sourcemap: true,
  target: ['es2022'],
  outdir: `${out}assets`,
  legalComments: 'linked',
  logLevel: 'warning',
});
copyFileSync('index.html', `${out}index.html`);
console.log(`built ${out}`);
