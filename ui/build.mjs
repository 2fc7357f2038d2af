// Bundles src/main.js (and the CSS it imports) into dist/assets with esbuild, and writes
// dist/index.html with modulepreload links for what the first page needs (the app, its
// static imports and the overview's chunk), so the browser fetches them in parallel rather
// than one import level at a time. No network: every import resolves in node_modules
// (npm ci, lock file).
import { build } from 'esbuild';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';

const out = new URL('./dist/', import.meta.url).pathname;
rmSync(out, { recursive: true, force: true });
mkdirSync(`${out}assets`, { recursive: true });
const result = await build({
  entryPoints: { app: 'src/main.js' },
  bundle: true,
  format: 'esm',
  splitting: true,                 // each page and cytoscape a chunk of its own, fetched when needed
  chunkNames: 'chunk-[hash]',
  minify: true,
  sourcemap: true,
  target: ['es2022'],
  outdir: `${out}assets`,
  legalComments: 'linked',
  metafile: true,
  logLevel: 'warning',
});

const outputs = result.metafile.outputs;
const name = (path) => path.split('/').pop();
const entry = Object.keys(outputs).find((p) => name(p) === 'app.js');
const overview = Object.keys(outputs).find((p) => outputs[p].entryPoint === 'src/pages/overview.js');
const wanted = new Set();
const visit = (path) => {
  if (!path || wanted.has(path)) return;
  wanted.add(path);
  for (const imp of outputs[path].imports) if (imp.kind === 'import-statement') visit(imp.path);
};
visit(entry);
visit(overview);
wanted.delete(entry);
const links = [...wanted].map((p) => `  <link rel="modulepreload" href="/ui/assets/${name(p)}">`).join('\n');
const html = readFileSync('index.html', 'utf8').replace('  <!-- modulepreload -->', links);
writeFileSync(`${out}index.html`, html);
console.log(`built ${out} (${wanted.size} chunks preloaded)`);
