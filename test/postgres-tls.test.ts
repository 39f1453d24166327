import { execFileSync, spawn, spawnSync } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import * as tls from 'node:tls';
import { Client } from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../lib/config/load';
import { backupRoleConnectionLimit, daprRoleConnectionLimit } from '../lib/config/postgres-security';
import { LearnflowStack } from '../lib/learnflow-stack';
import { BACKUP_MOUNT, SERVER_FILES_MOUNT } from '../lib/postgres/backup-layout';
import { generateSecretValues } from '../lib/postgres/secrets';
import { CLIENT_CA_FILE, TLS_MOUNT } from '../lib/postgres/tls';
import { appRoleOf } from '../verify/data-plane/port-forward';
import { PostgresTarget, parsePostgresUrl } from '../verify/data-plane/postgres-target';
import { loadDist } from '../verify/dist';
import { PostgresEngine, requirePostgresEngine, unprivilegedIdentity } from './harness/postgres/engine';
import { JobPod, type JobResult, type SecretStore } from './harness/postgres/job-pod';
import { sleep } from './harness/processes';
import { EXPORTER, exporterMissing } from './observability/postgres-exporter';
import { scrape } from './observability/scrape';
import { requireEngine } from './support/engines';
import { envOf, findObject, type K8sObject, runSynthCli, synthObjects, tempDir } from './support/synth';


// The production profile's PostgreSQL as dist/ configures it (server arguments, pg_hba from its ConfigMap,
// the certificate's DNS names), on a real PostgreSQL 16 with a CA and server certificate made here with
// openssl; the migrations Job as shipped sets up the roles over TLS with verify-full.
const DATABASE = 'learnflow_db';
const config = loadConfig({ profile: 'production' });
const stack = new LearnflowStack(config);
const contract = stack.postgres.secrets;
const SERVICE_HOST = stack.postgres.host;

const expectSuccess = (result: JobResult) => expect(result.exitCode, `${result.stdout}\n${result.stderr}`).toBe(0);

/**
 * A CA, and a server certificate it signs for the DNS names of dist/'s Certificate (as cert-manager would issue).
 * With a CA already in `dir`, a new key and certificate from that CA: a renewal.
 */
function makeCertificates(dir: string, dnsNames: readonly string[], ipAddresses: readonly string[] = []): { ca: string; crt: string; key: string } {
  const file = (name: string) => path.join(dir, name);
  const openssl = (...args: string[]) => execFileSync('openssl', args, { stdio: 'pipe' });
  if (!fs.existsSync(file('ca.key'))) {
    openssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2', '-subj', '/CN=test CA', '-keyout', file('ca.key'), '-out', file('ca.crt'));
  }
  openssl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-subj', `/CN=${dnsNames[0]}`, '-keyout', file('tls.key'), '-out', file('tls.csr'));
  const names = [...dnsNames.map((name) => `DNS:${name}`), ...ipAddresses.map((ip) => `IP:${ip}`)];
  fs.writeFileSync(file('ext.cnf'), `subjectAltName=${names.join(',')}\nextendedKeyUsage=serverAuth\n`);
  openssl('x509', '-req', '-in', file('tls.csr'), '-CA', file('ca.crt'), '-CAkey', file('ca.key'), '-CAcreateserial', '-days', '2', '-extfile', file('ext.cnf'), '-out', file('tls.crt'));
  return { ca: fs.readFileSync(file('ca.crt'), 'utf8'), crt: fs.readFileSync(file('tls.crt'), 'utf8'), key: fs.readFileSync(file('tls.key'), 'utf8') };
}

/** A TLS session with the server, opened as libpq does (SSLRequest, then the handshake), verifying `ca` and the service's name. */
async function startTls(port: number, ca: string): Promise<tls.TLSSocket> {
  const socket = net.connect(port, '127.0.0.1');
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  const sslRequest = Buffer.alloc(8);
  sslRequest.writeInt32BE(8, 0);
  sslRequest.writeInt32BE(80877103, 4);
  socket.write(sslRequest);
  const answer = await new Promise<Buffer>((resolve) => socket.once('data', resolve));
  expect(answer.toString()).toBe('S');
  const secure = tls.connect({ socket, ca, servername: SERVICE_HOST });
  await new Promise<void>((resolve, reject) => secure.once('secureConnect', resolve).once('error', reject));
  return secure;
}

/** The SHA-256 fingerprint of the certificate the server presents now. */
async function servedCertificate(port: number, ca: string): Promise<string> {
  const secure = await startTls(port, ca);
  const { fingerprint256 } = secure.getPeerCertificate();
  secure.destroy();
  return fingerprint256;
}

/**
 * The first authentication request the server sends a client that speaks TLS: 10 is SASL (SCRAM), 5 MD5,
 * 3 cleartext (PostgreSQL protocol, "Message Formats"). A client that can only answer 5 or 3 cannot log in.
 */
async function authenticationRequest(port: number, ca: string, user: string): Promise<{ code: number; mechanisms: string[] }> {
  const secure = await startTls(port, ca);
  const parameters = Buffer.from(`user\0${user}\0database\0${DATABASE}\0\0`);
  const startup = Buffer.alloc(8);
  startup.writeInt32BE(8 + parameters.length, 0);
  startup.writeInt32BE(3 << 16, 4);
  secure.write(Buffer.concat([startup, parameters]));
  const message = await new Promise<Buffer>((resolve) => secure.once('data', resolve));
  secure.destroy();
  expect(String.fromCharCode(message[0])).toBe('R');
  return { code: message.readInt32BE(5), mechanisms: message.subarray(9).toString().split('\0').filter(Boolean) };
}

/**
 * The certificate Secret's tls.crt and tls.key as the kubelet projects a Secret volume (pkg/volume/util/
 * atomic_writer.go): each name a symlink through `..data` to a timestamped directory, and an update swaps
 * `..data` in one rename, so a reader sees the old pair or the new one. The key as the pod sees it: root's,
 * with the pod's group, 0440 (the volume's defaultMode), or ours, 0600, when we are not root.
 */
function projectCertificate(dir: string, { crt, key }: { crt: string; key: string }): void {
  const version = fs.mkdtempSync(path.join(dir, '..version-'));
  fs.chmodSync(version, 0o755);
  fs.writeFileSync(path.join(version, 'tls.crt'), crt, { mode: 0o444 });
  fs.writeFileSync(path.join(version, 'tls.key'), key, { mode: 0o600 });
  const identity = unprivilegedIdentity();
  if (identity) {
    fs.chownSync(path.join(version, 'tls.key'), 0, identity.gid);
    fs.chmodSync(path.join(version, 'tls.key'), 0o440);
  }
  fs.symlinkSync(path.basename(version), path.join(dir, '..data_tmp'));
  fs.renameSync(path.join(dir, '..data_tmp'), path.join(dir, '..data'));
  for (const name of ['tls.crt', 'tls.key']) if (!fs.existsSync(path.join(dir, name))) fs.symlinkSync(`..data/${name}`, path.join(dir, name));
}

describe.skipIf(!requirePostgresEngine('PostgreSQL TLS suite'))('PostgreSQL TLS, pg_hba and connection limits of the production profile on PostgreSQL 16', () => {
  let engine: PostgresEngine;
  let objects: K8sObject[];
  let secrets: SecretStore;
  let certificates: { ca: string; crt: string; key: string };
  let work: string;
  let caFile: string;
  let tlsDir: string;
  let socketDir: string;
  const clients: Client[] = [];

  /** A node-postgres client over TLS that verifies the CA and the service's host name, as verify-full does. */
  const tlsClient = (user: string, password: string, database = DATABASE) =>
    new Client({ host: '127.0.0.1', port: engine.port, user, password, database, ssl: { ca: certificates.ca, servername: SERVICE_HOST }, connectionTimeoutMillis: 10_000 });
  const connect = async (client: Client) => {
    clients.push(client);
    await client.connect();
    return client;
  };
  const superuser = async (sql: string) => {
    const client = await connect(tlsClient(engine.superuser.user, engine.superuser.password, 'postgres'));
    const { rows } = await client.query(sql);
    await client.end();
    return rows;
  };
  /** psql with a connection string of the contract: the cluster's names kept; the address, port and CA path local. */
  const psql = (connection: string, sql: string) =>
    spawnSync('psql', ['-X', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-c', sql, connection], {
      encoding: 'utf8',
      timeout: 30_000,
      env: { PATH: process.env.PATH, PGHOSTADDR: '127.0.0.1', PGPORT: String(engine.port), PGCONNECT_TIMEOUT: '10' },
    });

  beforeAll(async () => {
    objects = synthObjects({ profile: 'production' });
    work = tempDir('pg-tls');
    fs.chmodSync(work, 0o755);
    const certificate = findObject(objects, 'Certificate', 'postgres');
    // Plus 127.0.0.1: postgres_exporter's driver (lib/pq) has no hostaddr, so under verify-full it checks the
    // address it dials; every other client here dials the cluster names (hostaddr, or the TLS servername).
    certificates = makeCertificates(work, certificate.spec.dnsNames, ['127.0.0.1']);
    secrets = {
      ...Object.fromEntries(contract.all.map((secret) => [secret.name, secret.render(generateSecretValues(secret))])),
      [certificate.spec.secretName]: { 'tls.crt': certificates.crt, 'tls.key': certificates.key, 'ca.crt': certificates.ca },
    };
    // The mounts of the server container, laid out as the kubelet projects them: the key owned by root with the
    // pod's group, 0440 (the Secret volume's defaultMode), or by us, 0600, when we are not root.
    const statefulSet = findObject(objects, 'StatefulSet', 'postgres');
    // The server's files (pg_hba.conf, the archive script: backups are on in production) and its backup volume.
    const serverFiles = findObject(objects, 'ConfigMap', 'postgres-server-files').data ?? {};
    const mounts = { [TLS_MOUNT]: path.join(work, 'tls'), [SERVER_FILES_MOUNT]: path.join(work, 'server-files'), [BACKUP_MOUNT]: path.join(work, 'backup') };
    for (const dir of Object.values(mounts)) fs.mkdirSync(dir, { mode: 0o755 });
    for (const [key, content] of Object.entries(serverFiles)) fs.writeFileSync(path.join(mounts[SERVER_FILES_MOUNT], key), content, { mode: 0o444 });
    tlsDir = mounts[TLS_MOUNT];
    projectCertificate(tlsDir, certificates);
    const identity = unprivilegedIdentity();
    // The archiver writes the WAL archive as the server's user; the tls-reload sidecar's socket is the server's.
    socketDir = path.join(work, 'run');
    fs.mkdirSync(socketDir, { mode: 0o775 });
    if (identity) for (const dir of [mounts[BACKUP_MOUNT], socketDir]) fs.chownSync(dir, identity.uid, identity.gid);
    caFile = path.join(work, 'ca.crt');
    fs.writeFileSync(caFile, certificates.ca, { mode: 0o444 });
    const container = statefulSet.spec.template.spec.containers[0];
    const args: string[] = container.args.slice(1).map((arg: string) =>
      Object.entries(mounts).reduce((relocated, [mount, local]) => relocated.replaceAll(`${mount}/`, `${local}/`), arg),
    );
    engine = await PostgresEngine.start({
      args,
      initdbArgs: container.env.find((e: { name: string }) => e.name === 'POSTGRES_INITDB_ARGS').value.split(' '),
      superuserPassword: secrets[contract.superuser.name].password,
      socketDirectory: socketDir,
    });
    // The Job reaches the server by its cluster name (verify-full checks it), at the local address.
    const migrations = new JobPod(objects, 'migrations');
    expectSuccess(await migrations.run({ network: { host: SERVICE_HOST, port: engine.port }, secrets, envOverrides: { PGHOSTADDR: '127.0.0.1' } }));
  }, 120_000);

  afterAll(async () => {
    await Promise.all(clients.map((client) => client.end().catch(() => undefined)));
    await engine?.stop();
    if (work) fs.rmSync(work, { recursive: true, force: true });
  });

  it('runs with ssl on, and dist/ asks for it: the StatefulSet mounts the Certificate Secret and the pg_hba ConfigMap', async () => {
    const [row] = await superuser("SELECT current_setting('ssl') AS ssl, current_setting('hba_file') AS hba, current_setting('password_encryption') AS encryption");
    expect(row).toMatchObject({ ssl: 'on', encryption: 'scram-sha-256' });
    expect(row.hba).toBe(path.join(work, 'server-files', 'pg_hba.conf'));
  });

  it('refuses a connection without TLS, for every role', async () => {
    for (const user of [engine.superuser.user, 'learnflow', 'learnflow_dapr']) {
      const plain = new Client({ host: '127.0.0.1', port: engine.port, user, password: 'whatever', database: DATABASE, ssl: false });
      clients.push(plain);
      await expect(plain.connect(), user).rejects.toThrow(/no pg_hba\.conf entry for host "127\.0\.0\.1".*no encryption/);
    }
    const result = psql(`host=${SERVICE_HOST} dbname=${DATABASE} user=learnflow sslmode=disable`, 'SELECT 1');
    expect(result.status).not.toBe(0);
    expect(result.stderr).toMatch(/no pg_hba\.conf entry .* no encryption/);
  });

  it('asks every client for SCRAM only (an md5 or cleartext client cannot answer), and refuses a role with an md5 password', async () => {
    const request = await authenticationRequest(engine.port, certificates.ca, 'learnflow');
    // SCRAM, with TLS channel binding (-PLUS) offered too; no MD5 (5) or cleartext (3) request.
    expect(request).toEqual({ code: 10, mechanisms: ['SCRAM-SHA-256-PLUS', 'SCRAM-SHA-256'] });
    // A role whose stored password is an md5 hash cannot log in under scram-sha-256.
    await superuser("SET password_encryption = 'md5'; DROP ROLE IF EXISTS legacy_md5; CREATE ROLE legacy_md5 LOGIN PASSWORD 'legacy-password'; GRANT CONNECT ON DATABASE learnflow_db TO legacy_md5");
    const [stored] = await superuser("SELECT left(rolpassword, 3) AS prefix FROM pg_authid WHERE rolname = 'legacy_md5'");
    expect(stored.prefix).toBe('md5');
    await expect(connect(tlsClient('legacy_md5', 'legacy-password'))).rejects.toThrow(/password authentication failed for user "legacy_md5"/);
  });

  it("the app and Dapr roles work over TLS with verify-full, from their Secrets' connection strings", () => {
    const app = secrets['learnflow-postgres-app'].connectionString;
    const dapr = secrets['learnflow-postgres-dapr'].connectionString;
    expect(app).toContain('sslmode=verify-full');
    expect(dapr).toContain('sslmode=verify-full');
    const local = (connection: string) =>
      connection.replace(CLIENT_CA_FILE, caFile).replace(`${SERVICE_HOST}:5432/`, `${SERVICE_HOST}:${engine.port}/`).replace('port=5432', `port=${engine.port}`);
    const sql = 'SELECT current_user, s.ssl FROM pg_stat_ssl s WHERE s.pid = pg_backend_pid()';
    for (const [connection, role] of [[app, 'learnflow'], [dapr, 'learnflow_dapr']]) {
      const result = psql(local(connection), sql);
      expect(result.stderr, role).toBe('');
      expect(result.stdout.trim(), role).toBe(`${role}|t`);
    }
    // verify-full checks the name: the same CA, a name the certificate does not carry, is refused.
    const wrongName = psql(local(app).replace(SERVICE_HOST, 'postgres.elsewhere.svc.cluster.local'), sql);
    expect(wrongName.status).not.toBe(0);
    expect(wrongName.stderr).toMatch(/server certificate for "[^"]+" .*does not match host name "postgres\.elsewhere\.svc\.cluster\.local"/);
  });

  it('the verifier connects over verify-full too: --postgres-url with hostaddr, and --live reads the CA the Jobs use', async () => {
    const url = `${secrets['learnflow-postgres-app'].connectionString.replace(CLIENT_CA_FILE, caFile).replace(`${SERVICE_HOST}:5432/`, `${SERVICE_HOST}:${engine.port}/`)}&hostaddr=127.0.0.1`;
    const target = new PostgresTarget(parsePostgresUrl(url), 10_000);
    try {
      expect(await target.query('SELECT current_user AS role, ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()')).toEqual([{ role: 'learnflow', ssl: true }]);
    } finally {
      await target.close();
    }
    const dist = tempDir('pg-tls-dist');
    const synth = runSynthCli(['--quiet', '--profile', 'production', '--out', dist]);
    expect(synth.status, synth.stderr).toBe(0);
    expect(appRoleOf(loadDist(dist))?.tls).toEqual({ secret: { name: 'postgres-tls', key: 'ca.crt' }, servername: SERVICE_HOST });
  });

  it("each role's CONNECTION LIMIT is the config's, and it bites: one connection more is refused", async () => {
    const limits = await superuser("SELECT rolname, rolconnlimit FROM pg_roles WHERE rolname IN ('learnflow', 'learnflow_dapr') ORDER BY rolname");
    expect(limits).toEqual([
      { rolname: 'learnflow', rolconnlimit: config.postgres.connectionLimits.appRole },
      { rolname: 'learnflow_dapr', rolconnlimit: daprRoleConnectionLimit(config.dapr) },
    ]);
    const password = secrets['learnflow-postgres-app'].password;
    const open = await Promise.all(Array.from({ length: config.postgres.connectionLimits.appRole }, () => connect(tlsClient('learnflow', password))));
    await expect(connect(tlsClient('learnflow', password))).rejects.toThrow(/too many connections for role "learnflow"/);
    await Promise.all(open.map((client) => client.end()));
  }, 60_000);

  it("the backup role alone reaches the replication protocol, over TLS only (hostssl, the CronJob's verify-full); its CONNECTION LIMIT bounds its sessions, not pg_basebackup's WAL senders", async () => {
    // The base backup CronJob's client settings as dist/ ships them; its libpq takes PGSSLMODE and PGSSLROOTCERT.
    const env = envOf(findObject(objects, 'CronJob', 'postgres-basebackup').spec.jobTemplate.spec.template.spec.containers[0]);
    expect(env.PGSSLMODE).toBe('verify-full');
    const user = env.PGUSER ?? '';
    expect(user).toBe(config.postgres.backup.role);
    const password = secrets['learnflow-postgres-backup'].password;
    // pg_basebackup's first step on the replication protocol (IDENTIFY_SYSTEM), from psql in replication mode: the
    // harness's PostgreSQL 16 client programs are built without SSL, Debian's psql has it.
    const replication = (role: string, secret: string, sslmode: string) =>
      psql(`host=${SERVICE_HOST} dbname=replication replication=true user=${role} password=${secret} sslmode=${sslmode} sslrootcert=${caFile}`, 'IDENTIFY_SYSTEM');
    const identified = replication(user, password, env.PGSSLMODE ?? '');
    expect(identified.status, identified.stderr).toBe(0);
    expect(identified.stdout).toMatch(/^\d+\|1\|/);
    const plain = replication(user, password, 'disable');
    expect(plain.status).not.toBe(0);
    expect(plain.stderr).toMatch(/no pg_hba\.conf entry for replication connection .* no encryption/);
    const otherRole = replication('learnflow', secrets['learnflow-postgres-app'].password, 'verify-full');
    expect(otherRole.status).not.toBe(0);
    expect(otherRole.stderr).toMatch(/no pg_hba\.conf entry for replication connection .*user "learnflow"/);
    // The limit bites on regular sessions (the size query, pg_dump): one more is refused. pg_basebackup -X
    // stream's two replication connections still open beside them: WAL senders are not counted against it.
    const [limit] = await superuser(`SELECT rolconnlimit FROM pg_roles WHERE rolname = '${user}'`);
    expect(limit.rolconnlimit).toBe(backupRoleConnectionLimit(config.postgres.backup));
    const session = (replicationMode: boolean) => {
      const settings = {
        host: '127.0.0.1',
        port: engine.port,
        user,
        password,
        database: replicationMode ? 'replication' : 'postgres',
        ...(replicationMode ? { replication: 'true' } : {}),
        ssl: { ca: certificates.ca, servername: SERVICE_HOST },
      };
      return new Client(settings);
    };
    const open = await Promise.all(Array.from({ length: limit.rolconnlimit }, () => connect(session(false))));
    await expect(connect(session(false))).rejects.toThrow(new RegExp(`too many connections for role "${user}"`));
    open.push(...(await Promise.all([connect(session(true)), connect(session(true))])));
    const senders = await superuser(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE usename = '${user}' AND backend_type = 'walsender'`);
    expect(senders[0].n).toBe(2);
    await Promise.all(open.map((client) => client.end()));
  }, 60_000);

  it('the seed Job, and a re-run of the migrations Job, connect with verify-full too; the limits stay as they are', async () => {
    const network = { host: SERVICE_HOST, port: engine.port };
    for (const component of ['seed', 'migrations']) {
      expectSuccess(await new JobPod(objects, component).run({ network, secrets, envOverrides: { PGHOSTADDR: '127.0.0.1' } }));
    }
    const limits = await superuser("SELECT rolname, rolconnlimit FROM pg_roles WHERE rolname IN ('learnflow', 'learnflow_dapr') ORDER BY rolname");
    expect(limits.map((row) => row.rolconnlimit)).toEqual([config.postgres.connectionLimits.appRole, daprRoleConnectionLimit(config.dapr)]);
    // Without the CA the Jobs' verify-full refuses the server: the CA file is what they trust.
    const untrusted = await new JobPod(objects, 'seed').run({ network, secrets: { ...secrets, 'postgres-tls': { ...secrets['postgres-tls'], 'ca.crt': makeCertificates(fs.mkdtempSync(path.join(work, 'other-')), ['x']).ca } }, envOverrides: { PGHOSTADDR: '127.0.0.1', WAIT_TIMEOUT_SECONDS: '10' } });
    expect(untrusted.exitCode).not.toBe(0);
    expect(untrusted.stdout + untrusted.stderr).toMatch(/certificate verify failed|did not accept connections/);
  }, 120_000);

  describe.skipIf(!requireEngine('PostgreSQL TLS suite (postgres_exporter)', exporterMissing()))('postgres_exporter of the production profile', () => {
    /** The exporter as the Deployment runs it, the server's address local; pg_up of its first scrape. */
    async function exporterUp(uri: string): Promise<number | undefined> {
      const container = findObject(objects, 'Deployment', 'postgres-exporter').spec.template.spec.containers[0];
      const passwordFile = path.join(work, 'exporter-password');
      fs.writeFileSync(passwordFile, secrets['learnflow-postgres-monitoring'].password, { mode: 0o400 });
      // DATA_SOURCE_USER_FILE: the monitoring Secret's username, the login in use.
      const usernameFile = path.join(work, 'exporter-username');
      fs.writeFileSync(usernameFile, secrets['learnflow-postgres-monitoring'].username, { mode: 0o400 });
      expect(envOf(container).DATA_SOURCE_USER_FILE).toMatch(/\/username$/);
      const port = await new Promise<number>((resolve) => {
        const server = net.createServer().listen(0, '127.0.0.1', () => {
          const { port: free } = server.address() as net.AddressInfo;
          server.close(() => resolve(free));
        });
      });
      const args = (container.args as string[]).map((arg) => (arg.startsWith('--web.listen-address=') ? `--web.listen-address=127.0.0.1:${port}` : arg));
      const child = spawn(EXPORTER, args, { env: { PATH: process.env.PATH, DATA_SOURCE_URI: uri, DATA_SOURCE_USER_FILE: usernameFile, DATA_SOURCE_PASS_FILE: passwordFile }, stdio: 'ignore' });
      try {
        for (let attempt = 0; attempt < 50; attempt++) {
          const scraped = await scrape(`http://127.0.0.1:${port}/metrics`, 5_000).catch(() => undefined);
          if (scraped) return scraped.samples.find((sample) => sample.name === 'pg_up')?.value;
          await sleep(200);
        }
        throw new Error('postgres_exporter did not answer');
      } finally {
        child.kill('SIGKILL');
      }
    }

    it('connects with sslmode=verify-full and the CA of the certificate Secret; another CA, or plaintext, is refused', async () => {
      expectSuccess(await new JobPod(objects, 'monitor').run({ network: { host: SERVICE_HOST, port: engine.port }, secrets, envOverrides: { PGHOSTADDR: '127.0.0.1' } }));
      const deployment = findObject(objects, 'Deployment', 'postgres-exporter').spec.template.spec;
      const uri = envOf(deployment.containers[0]).DATA_SOURCE_URI!;
      const [, query] = /^[^?]+\?(.*)$/.exec(uri)!;
      const parameters = new URLSearchParams(query);
      expect(parameters.get('sslmode')).toBe('verify-full');
      // The CA file is the certificate Secret's ca.crt, as the Deployment mounts it.
      const caVolume = deployment.volumes.find((volume: { secret?: { secretName?: string } }) => volume.secret?.secretName === 'postgres-tls');
      const caMount = deployment.containers[0].volumeMounts.find((mount: { name: string }) => mount.name === caVolume.name);
      expect(parameters.get('sslrootcert')).toBe(`${caMount.mountPath}/${caVolume.secret.items.find((item: { key: string }) => item.key === 'ca.crt').path}`);
      const local = (rootcert: string, sslmode = 'verify-full') => `127.0.0.1:${engine.port}/postgres?sslmode=${sslmode}&sslrootcert=${rootcert}`;
      expect(await exporterUp(local(caFile))).toBe(1);
      const otherCa = path.join(work, 'other-ca.crt');
      fs.writeFileSync(otherCa, makeCertificates(fs.mkdtempSync(path.join(work, 'other-')), ['x']).ca);
      expect(await exporterUp(local(otherCa))).toBe(0);
      expect(await exporterUp(local(caFile, 'disable'))).toBe(0);
    }, 120_000);
  });

  it("a renewed certificate is served without a restart: the tls-reload sidecar's script has the server reload it", async () => {
    const sidecar = findObject(objects, 'StatefulSet', 'postgres').spec.template.spec.containers.find((c: { name: string }) => c.name === 'tls-reload');
    const env = envOf(sidecar);
    // Its mounts: the certificate and the server's socket directory are the server container's (the same volumes).
    const serverMounts = findObject(objects, 'StatefulSet', 'postgres').spec.template.spec.containers[0].volumeMounts as { name: string; mountPath: string }[];
    const mountOf = (dir: string) => (sidecar.volumeMounts as { name: string; mountPath: string }[]).find((m) => m.mountPath === dir)?.name;
    expect(serverMounts.find((m) => m.mountPath === env.TLS_DIR)?.name).toBe(mountOf(env.TLS_DIR!));
    expect(serverMounts.find((m) => m.mountPath === env.TLS_RELOAD_SOCKET)?.name).toBe(mountOf(env.TLS_RELOAD_SOCKET!));
    const issued = await servedCertificate(engine.port, certificates.ca);

    // cert-manager renews: a new key and certificate from the same CA, swapped into the volume. The server
    // keeps presenting the one it loaded at start: nothing re-reads the files by itself.
    const renewed = makeCertificates(work, findObject(objects, 'Certificate', 'postgres').spec.dnsNames, ['127.0.0.1']);
    projectCertificate(tlsDir, renewed);
    const renewedFingerprint = new crypto.X509Certificate(renewed.crt).fingerprint256;
    expect(renewedFingerprint).not.toBe(issued);
    await sleep(1_000);
    expect(await servedCertificate(engine.port, certificates.ca)).toBe(issued);
    // A session opened before the renewal outlives it.
    const before = await connect(tlsClient('learnflow', secrets['learnflow-postgres-app'].password));

    const state = tempDir('tls-reload-state');
    const identity = unprivilegedIdentity();
    if (identity) fs.chownSync(state, identity.uid, identity.gid);
    const output: string[] = [];
    const loop = spawn(sidecar.command[0], sidecar.command.slice(1), {
      // Relocated as the server is: its port here is a free one, in the pod 5432 (the socket's name carries it).
      env: { PATH: process.env.PATH, TLS_DIR: tlsDir, TLS_RELOAD_SOCKET: socketDir, TLS_RELOAD_STATE: state, TLS_RELOAD_INTERVAL: '1', PGPORT: String(engine.port) },
      // The pod's uid (999 = postgres): the socket admits the superuser by peer only, for that user.
      ...(identity ?? {}),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    loop.stdout.on('data', (chunk) => output.push(String(chunk)));
    loop.stderr.on('data', (chunk) => output.push(String(chunk)));
    const served = async (fingerprint: string) => {
      for (let attempt = 0; attempt < 50 && (await servedCertificate(engine.port, certificates.ca)) !== fingerprint; attempt++) await sleep(200);
      return servedCertificate(engine.port, certificates.ca);
    };
    try {
      // Its first turn reloads: a renewal before the loop started is picked up too.
      expect(await served(renewedFingerprint), output.join('')).toBe(renewedFingerprint);
      expect((await before.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
      // A key that does not belong to the certificate: the reload keeps the last good pair in use.
      const again = makeCertificates(work, ['x'], []);
      projectCertificate(tlsDir, { crt: renewed.crt, key: again.key });
      for (let attempt = 0; attempt < 50 && !/SSL configuration was not reloaded/.test(engine.serverLog()); attempt++) await sleep(200);
      expect(engine.serverLog()).toMatch(/SSL configuration was not reloaded/);
      expect(await servedCertificate(engine.port, certificates.ca)).toBe(renewedFingerprint);
      // The next renewal is served again, and the loop says so.
      const next = makeCertificates(work, findObject(objects, 'Certificate', 'postgres').spec.dnsNames, ['127.0.0.1']);
      projectCertificate(tlsDir, next);
      const nextFingerprint = new crypto.X509Certificate(next.crt).fingerprint256;
      expect(await served(nextFingerprint), output.join('')).toBe(nextFingerprint);
      expect(output.join('')).toMatch(/the certificate in .* changed: PostgreSQL reloaded it/);
      const client = await connect(tlsClient('learnflow', secrets['learnflow-postgres-app'].password));
      expect((await client.query('SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()')).rows).toEqual([{ ssl: true }]);
      // Its heartbeat is what the probes read.
      expect(spawnSync('/bin/bash', ['-c', sidecar.livenessProbe.exec.command[2]], { env: { TLS_RELOAD_STATE: state } }).status).toBe(0);
    } finally {
      loop.kill('SIGTERM');
    }
    // SIGTERM ends it at once (bash as PID 1 would otherwise ignore it).
    expect(await new Promise((resolve) => loop.once('exit', (code, signal) => resolve(code ?? signal)))).toBe(0);
  }, 120_000);
});
