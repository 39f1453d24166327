// Bundles the TypeScript entry points into build/ with esbuild (tens of milliseconds, no type check:
// `npm run typecheck` does that). `npm run synth` calls ensureBuilt() in-process, so a synth costs
// one node start, not a nested `npm run build` (PRODUCT.md: synth <= 0.5 s).

const fs = require('node:fs');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..');
const OUT = path.join(ROOT, 'build');
// Each becomes build/<same path>.js.
const SYNTH_ENTRY = 'main.ts';
const TOOL_ENTRIES = ['verify/main.ts', 'scripts/secrets.ts', 'scripts/deploy.ts', 'scripts/diff.ts', 'scripts/restore.ts', 'scripts/refresh-reference.ts'];
const SOURCE_DIRS = ['lib', 'verify', 'bench', 'scripts', 'imports'];
const CODE_CACHE_SUFFIX = '.v8-cache';

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
  newest = Math.max(newest, fs.statSync(path.join(ROOT, SYNTH_ENTRY)).mtimeMs);
  return newest;
}

function build() {
  const common = { absWorkingDir: ROOT, outbase: ROOT, outdir: OUT, bundle: true, platform: 'node', target: 'node20', logLevel: 'warning' };
  // The synth bundle carries its dependencies too, so that one V8 code cache covers all of it (run.js).
  require('esbuild').buildSync({ ...common, entryPoints: [SYNTH_ENTRY] });
  require('esbuild').buildSync({ ...common, entryPoints: TOOL_ENTRIES, packages: 'external' });
  fs.rmSync(path.join(OUT, `main.js${CODE_CACHE_SUFFIX}`), { force: true });
}

/** Rebuild only when a source is newer than the bundle. */
function ensureBuilt(outputFile) {
  const output = path.join(OUT, outputFile);
  if (!fs.existsSync(output) || fs.statSync(output).mtimeMs < newestSourceTime()) build();
  return output;
}

module.exports = { build, ensureBuilt, CODE_CACHE_SUFFIX };

if (require.main === module) build();
