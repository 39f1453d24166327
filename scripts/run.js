// `node scripts/run.js <entry>`: run build/<entry>.js, rebuilding it first if a source changed.

const fs = require('node:fs');
const path = require('node:path');
const { ensureBuilt, CODE_CACHE_SUFFIX } = require('./build');

const [entry, ...args] = process.argv.slice(2);
const output = ensureBuilt(`${entry}.js`);
process.argv = [process.argv[0], output, ...args];
if (entry === 'main') {
  runWithCodeCache(output);
} else {
  require(output);
}

/**
 * `npm run synth` is the hot path (PRODUCT.md: <= 0.5 s, and npm alone takes half of that). Compiling
 * the 1.3 MB bundle is a good part of what is left, so the synth bundle runs through vm.Script with
 * V8's code cache: written after the first run, rejected by V8 itself if the bundle changed.
 */
function runWithCodeCache(file) {
  const vm = require('node:vm');
  const Module = require('node:module');
  const cacheFile = `${file}${CODE_CACHE_SUFFIX}`;
  const cachedData = fs.existsSync(cacheFile) ? fs.readFileSync(cacheFile) : undefined;
  const script = new vm.Script(Module.wrap(fs.readFileSync(file, 'utf8')), { filename: file, cachedData });
  const bundle = new Module(file, module);
  bundle.filename = file;
  bundle.paths = Module._nodeModulePaths(path.dirname(file));
  script.runInThisContext().call(bundle.exports, bundle.exports, (id) => bundle.require(id), bundle, file, path.dirname(file));
  if (cachedData === undefined || script.cachedDataRejected) {
    // After the run, so that the functions synth compiled lazily are in the cache too; renamed into
    // place so that a concurrent run never reads half a file.
    const partial = `${cacheFile}.${process.pid}`;
    fs.writeFileSync(partial, script.createCachedData());
    fs.renameSync(partial, cacheFile);
  }
}
