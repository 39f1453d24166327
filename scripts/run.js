// `node scripts/run.js <entry>`: run build/<entry>.js, rebuilding it first if a source changed.
'use strict';
const [entry, ...args] = process.argv.slice(2);
const output = require('./build').ensureBuilt(`${entry}.js`);
process.argv = [process.argv[0], output, ...args];
require(output);
