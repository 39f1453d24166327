// Restores package-lock.json entries for per-platform binary packages (the optional dependencies of
// rollup, pulled in by vitest -> vite, and of biome). The npm registry reachable from this project's
// machines does not serve most of them, so `npm install` here leaves them out of the lockfile, and
// `npm ci` then refuses the lockfile as out of sync. The entries carry os/cpu/libc, so npm skips them on other
// platforms without fetching anything. Run after every change to the dependencies:
//   npm install && node scripts/lockfile-platforms.js

const fs = require('node:fs');
const path = require('node:path');

const lockPath = path.join(__dirname, '..', 'package-lock.json');
const lock = JSON.parse(fs.readFileSync(lockPath, 'utf8'));

const OS = ['android', 'darwin', 'freebsd', 'linux', 'openbsd', 'openharmony', 'win32'];
const CPU = ['arm64', 'arm', 'x64', 'ia32', 'loong64', 'ppc64', 'riscv64', 's390x'];
// Packages whose optional dependencies are one binary per platform, named <prefix><os>-<cpu>[-<abi>].
const PLATFORM_PACKAGES = { rollup: '@rollup/rollup-', '@biomejs/biome': '@biomejs/cli-' };

/** '@rollup/rollup-linux-arm-musleabihf' -> { os: linux, cpu: arm, libc: musl } */
function platformOf(name, prefix) {
  const [os, cpu, abi] = name.slice(prefix.length).split('-');
  if (!OS.includes(os) || !CPU.includes(cpu)) throw new Error(`cannot tell the platform of ${name}`);
  const platform = { os: [os], cpu: [cpu] };
  if (os === 'linux') platform.libc = [abi?.startsWith('musl') ? 'musl' : 'glibc'];
  return platform;
}

let added = 0;
for (const [parent, prefix] of Object.entries(PLATFORM_PACKAGES)) {
  const entry = lock.packages[`node_modules/${parent}`];
  for (const [name, version] of Object.entries(entry?.optionalDependencies ?? {})) {
    const key = `node_modules/${name}`;
    if (lock.packages[key]) continue;
    lock.packages[key] = { version, ...platformOf(name, prefix), dev: true, license: entry.license ?? 'MIT', optional: true };
    added += 1;
  }
}
lock.packages = Object.fromEntries(Object.entries(lock.packages).sort(([a], [b]) => (a === '' ? -1 : b === '' ? 1 : a.localeCompare(b))));
fs.writeFileSync(lockPath, `${JSON.stringify(lock, null, 2)}\n`);
console.log(`added ${added} platform package entries to package-lock.json`);
