// Restores package-lock.json entries for rollup's per-platform binaries (optional dependencies of
// rollup, pulled in by vitest -> vite). The npm registry reachable from this project's machines does
// not serve most of them, so `npm install` here leaves them out of the lockfile, and `npm ci` then
// refuses the lockfile as out of sync. The entries carry os/cpu/libc, so npm skips them on other
// platforms without fetching anything. Run after every change to the dependencies:
//   npm install && node scripts/lockfile-platforms.js
'use strict';
const fs = require('fs');
const path = require('path');

const lockPath = path.join(__dirname, '..', 'package-lock.json');
const lock = JSON.parse(fs.readFileSync(lockPath, 'utf8'));

const CPU = { arm: 'arm', arm64: 'arm64', x64: 'x64', ia32: 'ia32', loong64: 'loong64', ppc64: 'ppc64', riscv64: 'riscv64', s390x: 's390x' };

/** '@rollup/rollup-linux-arm-musleabihf' -> { os: linux, cpu: arm, libc: musl } */
function platformOf(name) {
  const [os, cpu, abi] = name.replace('@rollup/rollup-', '').split('-');
  if (!CPU[cpu]) throw new Error(`unknown cpu in ${name}`);
  const platform = { os: [os], cpu: [CPU[cpu]] };
  if (os === 'linux' && abi) platform.libc = [abi.startsWith('musl') ? 'musl' : 'glibc'];
  return platform;
}

const rollup = lock.packages['node_modules/rollup'];
let added = 0;
for (const [name, version] of Object.entries(rollup.optionalDependencies ?? {})) {
  const key = `node_modules/${name}`;
  if (lock.packages[key]) continue;
  lock.packages[key] = { version, ...platformOf(name), dev: true, license: 'MIT', optional: true };
  added += 1;
}
lock.packages = Object.fromEntries(Object.entries(lock.packages).sort(([a], [b]) => (a === '' ? -1 : b === '' ? 1 : a.localeCompare(b))));
fs.writeFileSync(lockPath, `${JSON.stringify(lock, null, 2)}\n`);
console.log(`added ${added} rollup platform entries to package-lock.json`);
