// Bundles the TypeScript entry points into build/ with esbuild (tens of milliseconds, no type check:
// `npm run typecheck` does that). `npm run synth` calls ensureBuilt() in-process, so a synth costs
// one node start, not a nested `npm run build` (PRODUCT.md: synth <= 0.5 s).
'use strict';
const fs = require('fs');
const path = require('path');

const ROOT = path.resolve(__dirname, '..');
const OUT = path.join(ROOT, 'build');
// Each becomes build/<same path>.js; entries that do not exist (yet) are skipped.
const ENTRY_POINTS = ['main.ts', 'verify/main.ts', 'scripts/secrets.ts', 'scripts/deploy.ts'];
const SOURCE_DIRS = ['lib', 'verify', 'bench', 'scripts', 'imports'];

function entryPoints() {
  return ENTRY_POINTS.filter((entry) => fs.existsSync(path.join(ROOT, entry)));
}

function newestSourceTime() {
  let newest = 0;
  const visit = (file) => {
    const stat = fs.statSync(file);
    if (stat.isDirectory()) {
      for (const name of fs.readdirSync(file)) visit(path.join(file, name));
    } else if (file.endsWith('.ts')) {
      newest = Math.max(newest, stat.mtimeMs);
    }
  };
  for (const dir of SOURCE_DIRS) if (fs.existsSync(path.join(ROOT, dir))) visit(path.join(ROOT, dir));
  for (const entry of entryPoints()) newest = Math.max(newest, fs.statSync(path.join(ROOT, entry)).mtimeMs);
  return newest;
}

function build() {
  require('esbuild').buildSync({
    absWorkingDir: ROOT,
    entryPoints: entryPoints(),
    outbase: ROOT,
    outdir: OUT,
    bundle: true,
    platform: 'node',
    target: 'node20',
    packages: 'external',
    logLevel: 'warning',
  });
}

/** Rebuild only when a source is newer than the bundle. */
function ensureBuilt(outputFile) {
  const output = path.join(OUT, outputFile);
  if (!fs.existsSync(output) || fs.statSync(output).mtimeMs < newestSourceTime()) build();
  return output;
}

module.exports = { build, ensureBuilt };

if (require.main === module) build();
