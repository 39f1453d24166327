import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CACHE_ROOT } from '../kafka/jars';
import { runStreaming } from '../processes';

// The stock postgres:16 image has PostgreSQL 16's client programs on its PATH; the backup scripts call
// pg_basebackup, pg_verifybackup, pg_archivecleanup, pg_dump and pg_restore. Debian 12 has only 15's, and
// pg_basebackup refuses a newer server ("incompatible server version"; src/bin/pg_basebackup/streamutil.c).
// embedded-postgres ships initdb, pg_ctl and postgres only. PyPI's pgserver 0.1.4 wheel carries a whole
// PostgreSQL 16.2 build (bin/ and its libpq, linked through RPATH $ORIGIN/../../../pgserver.libs): the
// wheel is a zip, downloaded with pip and unpacked; nothing of pgserver's Python is used.
const WHEEL = { name: 'pgserver', version: '0.1.4', platform: 'manylinux2014_x86_64', python: '3.11' };
const TOOLS = ['pg_basebackup', 'pg_verifybackup', 'pg_archivecleanup', 'pg_dump', 'pg_restore', 'pg_isready'];

const cacheDir = () => path.join(CACHE_ROOT, `postgres-tools-${WHEEL.name}-${WHEEL.version}`);
const binDir = (root: string) => path.join(root, 'pgserver', 'pginstall', 'bin');

/** Why PostgreSQL 16's client programs are not here, or undefined. */
export function postgresToolsMissing(): string | undefined {
  if (os.platform() !== 'linux' || os.arch() !== 'x64') return `PostgreSQL 16 client programs: only linux-x64 is provided (${WHEEL.name} wheel), not ${os.platform()}-${os.arch()}`;
  const missing = TOOLS.filter((tool) => !fs.existsSync(path.join(binDir(cacheDir()), tool)));
  return missing.length ? `PostgreSQL 16 client programs not prepared (${missing.join(', ')}): vitest's globalSetup downloads them from PyPI` : undefined;
}

/** Downloads and unpacks the wheel once per machine (globalSetup). */
export async function fetchPostgresTools(onLine: (line: string) => void): Promise<void> {
  if (postgresToolsMissing() === undefined) return;
  const staging = fs.mkdtempSync(path.join(CACHE_ROOT, '.postgres-tools-'));
  try {
    const pip = await runStreaming(
      'python3',
      ['-m', 'pip', 'download', '--no-deps', '--only-binary=:all:', '--platform', WHEEL.platform, '--python-version', WHEEL.python, '-d', staging, `${WHEEL.name}==${WHEEL.version}`],
      undefined,
      300_000,
      onLine,
    );
    if (pip.exitCode !== 0) throw new Error(`pip download ${WHEEL.name}==${WHEEL.version} failed:\n${pip.output.slice(-2000)}`);
    const wheel = fs.readdirSync(staging).find((name) => name.endsWith('.whl'));
    if (!wheel) throw new Error('pip downloaded no wheel');
    const unpacked = path.join(staging, 'unpacked');
    const unzip = await runStreaming('python3', ['-m', 'zipfile', '-e', path.join(staging, wheel), unpacked], undefined, 120_000, onLine);
    if (unzip.exitCode !== 0) throw new Error(`unpacking ${wheel} failed:\n${unzip.output.slice(-2000)}`);
    // zipfile drops the mode bits.
    for (const name of fs.readdirSync(binDir(unpacked))) fs.chmodSync(path.join(binDir(unpacked), name), 0o755);
    fs.rmSync(cacheDir(), { recursive: true, force: true });
    fs.renameSync(unpacked, cacheDir());
  } finally {
    fs.rmSync(staging, { recursive: true, force: true });
  }
}

/**
 * A copy of the client programs that the unprivileged 'postgres' user (the harness's Job pods and
 * server, when the tests run as root) can run: the cache is under root's home. Returns its bin directory.
 */
export function postgresToolsForAnyUser(): string {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'learnflow-pg-tools-'));
  fs.chmodSync(root, 0o755);
  fs.cpSync(path.join(cacheDir(), 'pgserver', 'pginstall', 'bin'), binDir(root), { recursive: true });
  fs.cpSync(path.join(cacheDir(), 'pgserver.libs'), path.join(root, 'pgserver.libs'), { recursive: true });
  for (const dir of [path.join(root, 'pgserver'), path.join(root, 'pgserver', 'pginstall'), binDir(root), path.join(root, 'pgserver.libs')]) fs.chmodSync(dir, 0o755);
  return binDir(root);
}
