import * as fs from 'node:fs';
import * as path from 'node:path';
import { Client } from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../lib/config/load';
import { EXIT } from '../lib/exit-codes';
import { LearnflowStack } from '../lib/learnflow-stack';
import { generateSecretValues, type PostgresSecrets } from '../lib/postgres/secrets';
import { ClusterUnavailableError } from '../verify/cluster/cluster-reader';
import { directDataPlane } from '../verify/data-plane/data-plane';
import { runVerify } from '../verify/runner';
import { REFERENCE_DIR } from './fixtures/verify/helpers';
import { PostgresEngine, requirePostgresEngine } from './harness/postgres/engine';
import { secretsCluster } from './harness/postgres/fake-kubectl';
import { JobPod, type SecretStore } from './harness/postgres/job-pod';
import { runProcess, sleep } from './harness/processes';
import { FakeKubectl } from './support/fake-kubectl';
import { type K8sObject, ROOT, synthObjects, tempDir } from './support/synth';

// `npm run secrets -- --rotate <role>` / `--finish <role>` on PostgreSQL 16, with clients connected throughout.
// The command runs as an operator runs it; kubectl is the fake of test/postgres-secrets.test.ts (our own seam:
// Secrets in a JSON file), whose `kubectl exec ... -- psql` runs the command's psql against the real server.
// The roles and their twins come from the migrations and monitoring-role Jobs' own scripts, run as the Jobs run them.
const OVERRIDE = { observability: { enabled: true } };
const DATABASE = 'learnflow_db';
const APPS = 'learnflow';

interface FakeCluster {
  namespaces: string[];
  secrets: Record<string, { metadata: { name: string; namespace: string }; data: Record<string, string> }>;
  workloads: Record<string, unknown[]>;
}

const b64 = (value: string) => Buffer.from(value).toString('base64');
const decode = (data: Record<string, string>) => Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v, 'base64').toString()]));

/** A Deployment of the apps namespace that reads the app Secret from env, with a Dapr sidecar. */
const serviceDeployment = (name: string, secret: string) => ({
  kind: 'Deployment',
  metadata: { name },
  spec: {
    template: {
      metadata: { annotations: { 'dapr.io/enabled': 'true', 'dapr.io/app-id': name } },
      spec: { containers: [{ name, env: [{ name: 'DATABASE_URL', valueFrom: { secretKeyRef: { name: secret, key: 'connectionString' } } }] }] },
    },
  },
});

describe.skipIf(!requirePostgresEngine('credential rotation suite'))('npm run secrets --rotate on PostgreSQL 16, clients connected throughout', () => {
  let engine: PostgresEngine;
  let objects: K8sObject[];
  let contract: PostgresSecrets;
  let store: Record<string, Record<string, string>>;
  let dir: string;
  let configFile: string;
  let kubectl: FakeKubectl;

  const stateFile = () => path.join(dir, 'state.json');
  const readState = () => JSON.parse(fs.readFileSync(stateFile(), 'utf8')) as FakeCluster;
  /** The Secret as a pod starting now reads it. */
  const secretNow = (name: string, namespace: string) => decode(readState().secrets[`${namespace}/${name}`].data);
  const secretsNow = (): SecretStore => {
    const state = readState();
    return Object.fromEntries(contract.all.map((secret) => [secret.name, decode(state.secrets[`postgres/${secret.name}`].data)]));
  };
  const connect = async (user: string, password: string, database = DATABASE) => {
    const client = new Client({ host: '127.0.0.1', port: engine.port, user, password, database, application_name: `rotation-test-${user}` });
    // A connection the server ends (the engine stopping after a failed test) must not be an uncaught error.
    client.on('error', () => undefined);
    await client.connect();
    return client;
  };
  const canLogIn = (user: string, password: string) =>
    connect(user, password).then(
      async (client) => {
        await client.end();
        return 'ok';
      },
      (error: { code?: string }) => error.code ?? 'error',
    );

  async function secrets(args: readonly string[]) {
    const result = await runProcess(
      process.execPath,
      [path.join(ROOT, 'scripts/run.js'), 'scripts/secrets', '--config', configFile, ...args],
      kubectl.env(stateFile()),
      120_000,
    );
    const callsFile = `${stateFile()}.calls`;
    return { ...result, calls: fs.existsSync(callsFile) ? fs.readFileSync(callsFile, 'utf8') : '' };
  }

  /** Every generated value (password) of the fake cluster, now: none may ever be printed or be on a command line. */
  const allValues = () => {
    const state = readState();
    return contract.all.flatMap((secret) => secret.generatedKeys.map((key) => decode(state.secrets[`postgres/${secret.name}`].data)[key]));
  };

  beforeAll(async () => {
    dir = tempDir('rotation');
    configFile = path.join(dir, 'observability.yaml');
    fs.writeFileSync(configFile, 'observability:\n  enabled: true\n');
    objects = synthObjects({ override: OVERRIDE });
    contract = new LearnflowStack(loadConfig({ override: OVERRIDE })).postgres.secrets;
    store = Object.fromEntries(contract.all.map((secret) => [secret.name, secret.render(generateSecretValues(secret))]));
    const secretsState: FakeCluster['secrets'] = {};
    for (const secret of contract.all) {
      for (const namespace of secret.namespaces) {
        secretsState[`${namespace}/${secret.name}`] = {
          metadata: { name: secret.name, namespace },
          data: Object.fromEntries(Object.entries(store[secret.name]).map(([k, v]) => [k, b64(v)])),
        };
      }
    }
    const state: FakeCluster = {
      namespaces: ['kafka', 'postgres', APPS],
      secrets: secretsState,
      workloads: { [APPS]: [serviceDeployment('triage-agent', contract.app.name), { kind: 'Deployment', metadata: { name: 'unrelated' }, spec: { template: { spec: { containers: [{ name: 'x' }] } } } }] },
    };
    fs.writeFileSync(stateFile(), JSON.stringify(state));
    const server = objects.find((o) => o.kind === 'StatefulSet' && o.metadata.name === 'postgres')!.spec.template.spec.containers[0];
    engine = await PostgresEngine.start({
      args: server.args.slice(1),
      initdbArgs: server.env.find((e: { name: string }) => e.name === 'POSTGRES_INITDB_ARGS').value.split(' '),
      superuserPassword: store[contract.superuser.name].password,
    });
    kubectl = await FakeKubectl.start(secretsCluster({ host: '127.0.0.1', port: engine.port, user: engine.superuser.user, password: engine.superuser.password }));
    for (const component of ['migrations', 'seed', 'monitor']) {
      const result = await new JobPod(objects, component).run({ network: { host: '127.0.0.1', port: engine.port }, secrets: secretsNow() });
      expect(result.exitCode, result.stderr).toBe(0);
    }
  }, 180_000);

  afterAll(async () => {
    await kubectl?.close();
    await engine?.stop();
  });

  it('rotates the application role with a held connection and reconnecting clients that never fail, then finishes', async () => {
    const appSecret = contract.app.name;
    const before = secretNow(appSecret, APPS);
    expect(before.username).toBe('learnflow');
    // An old pod: started with the values of before, keeps them until it restarts.
    let oldPod = { user: before.username, password: before.password };
    const failures: string[] = [];
    const timings = { rotate: 0, finish: 0 };
    let operations = 0;
    const holder = await connect(before.username, before.password);
    let running = true;
    const holding = (async () => {
      while (running) {
        await holder.query('SELECT count(*) FROM topics').then(
          () => operations++,
          (error: Error) => failures.push(`held connection: ${error.message}`),
        );
        await sleep(20);
      }
    })();
    // Reconnecting clients: a pool refilling with the old pod's values, and pods starting at any moment (the Secret now).
    const reconnecting = (credentials: () => { user: string; password: string }, who: string) =>
      (async () => {
        while (running) {
          const { user, password } = credentials();
          try {
            const client = await connect(user, password);
            await client.query('SELECT count(*) FROM topics');
            await client.end();
            operations++;
          } catch (error) {
            failures.push(`${who} as ${user}: ${(error as Error).message}`);
          }
          await sleep(10);
        }
      })();
    const loops = [
      holding,
      reconnecting(() => oldPod, 'old pod reconnecting'),
      reconnecting(() => {
        const now = secretNow(appSecret, APPS);
        return { user: now.username, password: now.password };
      }, 'new pod'),
    ];
    try {
      await sleep(300);
      const rotated = await secrets(['--rotate', 'app']);
      expect(rotated.exitCode, rotated.output).toBe(EXIT.ok);
      timings.rotate = rotated.durationMs;
      for (const namespace of contract.app.namespaces) {
        const after = secretNow(appSecret, namespace);
        expect(after.username).toBe('learnflow_b');
        expect(after.password).not.toBe(before.password);
        expect(after.connectionString).toContain(`postgresql://learnflow_b:${after.password}@`);
        expect(after.host).toBe(before.host);
      }
      // Exactly the services that read it: the Deployment referencing the Secret, not the unrelated one.
      expect(rotated.stdout).toContain(`kubectl -n ${APPS} rollout restart deployment/triage-agent`);
      expect(rotated.stdout).not.toContain('deployment/unrelated');
      expect(rotated.stdout).toContain('npm run secrets -- --finish app');
      await sleep(300);

      // The old login still has sessions (the old pod): --finish refuses and changes nothing.
      const early = await secrets(['--finish', 'app']);
      expect(early.exitCode, early.output).toBe(EXIT.preflight);
      expect(early.stderr).toMatch(/learnflow still has \d+ session/);
      expect(await canLogIn(before.username, before.password)).toBe('ok');
      // Rotating again before finishing would lock the old pod out: refused.
      const again = await secrets(['--rotate', 'app']);
      expect(again.exitCode, again.output).toBe(EXIT.preflight);
      expect(again.stderr).toContain('the previous rotation of app is not finished');
      expect(secretNow(appSecret, APPS).password).toBe(secretNow(appSecret, 'postgres').password);

      // The rollout restart: the old pod comes back with the Secret's values, its held connection closes.
      const now = secretNow(appSecret, APPS);
      oldPod = { user: now.username, password: now.password };
      running = false;
      await Promise.all(loops);
      await holder.end();
      await sleep(200);
      const finished = await secrets(['--finish', 'app']);
      expect(finished.exitCode, finished.output).toBe(EXIT.ok);
      timings.finish = finished.durationMs;
      expect(finished.stdout).toContain('finished: learnflow has no password');

      for (const output of [rotated, early, again, finished]) {
        for (const value of [before.password, now.password, ...allValues()]) {
          expect(output.output).not.toContain(value);
          expect(output.calls).not.toContain(value);
        }
      }
    } finally {
      running = false;
      await Promise.all(loops);
    }
    console.log(
      `rotation of app: ${operations} queries and reconnections, ${failures.length} failed; --rotate ${timings.rotate} ms, --finish ${timings.finish} ms (fake kubectl, real psql)`,
    );
    expect(failures).toEqual([]);
    expect(operations).toBeGreaterThan(50);

    const after = secretNow(appSecret, APPS);
    expect(await canLogIn(before.username, before.password)).toBe('28P01');
    expect(await canLogIn(after.username, after.password)).toBe('ok');
  }, 300_000);

  it('the rotated login acts as the application role: reads and writes the tables, creates nothing, and the Jobs keep working', async () => {
    const { username, password } = secretNow(contract.app.name, 'postgres');
    const client = await connect(username, password);
    try {
      const [identity] = (await client.query('SELECT session_user, current_user')).rows;
      expect(identity).toEqual({ session_user: 'learnflow_b', current_user: 'learnflow' });
      const [{ id: student }] = (await client.query('SELECT id FROM students LIMIT 1')).rows;
      const session = '00000000-0000-4000-8000-000000000011';
      await client.query("INSERT INTO chat_history (student_id, session_id, sender, message) VALUES ($1, $2, 'student', 'rotated')", [student, session]);
      await client.query("UPDATE chat_history SET message = 'rotated again' WHERE session_id = $1", [session]);
      await client.query('DELETE FROM chat_history WHERE session_id = $1', [session]);
      for (const sql of ['CREATE TABLE public.sneaky (x int)', 'DROP TABLE chat_history', "INSERT INTO schema_migrations VALUES ('999', 'x', repeat('0', 64))", 'CREATE ROLE sneaky']) {
        await expect(client.query(sql), sql).rejects.toThrow(/permission denied|must be owner/);
      }
      // The connection budget: the login in use has the role's limit, the retired one none.
      const limits = (await client.query("SELECT rolname, rolconnlimit FROM pg_roles WHERE rolname IN ('learnflow', 'learnflow_b') ORDER BY 1")).rows;
      expect(limits).toEqual([
        { rolname: 'learnflow', rolconnlimit: 0 },
        { rolname: 'learnflow_b', rolconnlimit: 12 },
      ]);
    } finally {
      await client.end();
    }
    // The verifier, connected as the rotated login (as its port-forward does after a rotation): the role's
    // privileges, and no "not the application role" warning.
    const report = await runVerify({
      distDir: path.join(ROOT, 'dist'),
      referenceDir: REFERENCE_DIR,
      live: 'auto',
      connect: () => Promise.reject(new ClusterUnavailableError('no cluster in this test')),
      openDataPlane: directDataPlane({ postgres: { host: '127.0.0.1', port: engine.port, user: username, password, database: DATABASE } }, 10_000),
      only: ['postgres-live-role-privileges'],
    });
    const verdicts = report.checks.filter((check) => check.id === 'postgres-live-role-privileges').map((check) => check.status);
    expect(verdicts.length).toBeGreaterThan(0);
    expect(verdicts.every((status) => status === 'pass'), JSON.stringify(report.checks)).toBe(true);
    // The Jobs, re-run with the rotated Secret: the migrations Job sets the password of the login it names (and leaves
    // the retired one without), the seed Job logs in as it.
    for (const component of ['migrations', 'seed']) {
      const result = await new JobPod(objects, component).run({ network: { host: '127.0.0.1', port: engine.port }, secrets: secretsNow() });
      expect(result.exitCode, result.stderr).toBe(0);
    }
    expect(await canLogIn(username, password)).toBe('ok');
    const [retired] = await engine.query<{ has_password: boolean }>("SELECT rolpassword IS NOT NULL AS has_password FROM pg_authid WHERE rolname = 'learnflow'");
    expect(retired.has_password).toBe(false);
    // And the next rotation goes back to the role itself.
    const back = await secrets(['--rotate', 'app']);
    expect(back.exitCode, back.output).toBe(EXIT.ok);
    const secret = secretNow(contract.app.name, APPS);
    expect(secret.username).toBe('learnflow');
    expect(await canLogIn(secret.username, secret.password)).toBe('ok');
    expect(await canLogIn(username, password)).toBe('ok');
    const finished = await secrets(['--finish', 'app']);
    expect(finished.exitCode, finished.output).toBe(EXIT.ok);
    expect(await canLogIn(username, password)).toBe('28P01');
  }, 180_000);

  it("rotates Dapr's login (what it creates stays the Dapr role's) and the monitoring login (still a pg_monitor member)", async () => {
    const dapr = await secrets(['--rotate', 'dapr']);
    expect(dapr.exitCode, dapr.output).toBe(EXIT.ok);
    // Every Dapr sidecar resolves the component's secretKeyRef at its start.
    expect(dapr.stdout).toContain(`kubectl -n ${APPS} rollout restart deployment/triage-agent`);
    const daprSecret = secretNow(contract.dapr.name, APPS);
    expect(daprSecret.connectionString).toContain('user=learnflow_dapr_b ');
    expect(daprSecret.connectionString).toContain(`password=${daprSecret.password} `);
    const client = await connect(daprSecret.username, daprSecret.password);
    try {
      // As Dapr's state store does at start-up: unqualified names resolve to its schema.
      await client.query('CREATE TABLE IF NOT EXISTS learnflow_rotation_probe (key text PRIMARY KEY)');
      const [owner] = (await client.query("SELECT n.nspname, pg_get_userbyid(c.relowner) AS owner FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE relname = 'learnflow_rotation_probe'")).rows;
      expect(owner).toEqual({ nspname: 'dapr_state', owner: 'learnflow_dapr' });
      await expect(client.query('SELECT count(*) FROM public.users')).rejects.toThrow(/permission denied/);
    } finally {
      await client.end();
    }

    const monitoring = await secrets(['--rotate', 'monitoring']);
    expect(monitoring.exitCode, monitoring.output).toBe(EXIT.ok);
    expect(monitoring.stdout).toContain('kubectl -n postgres rollout restart deployment/postgres-exporter');
    const monitor = secretNow(contract.monitoring!.name, 'postgres');
    expect(monitor.username).toBe('learnflow_monitor_b');
    const [membership] = await engine.query<{ monitor: boolean; limit: number }>(
      "SELECT pg_has_role('learnflow_monitor_b', 'pg_monitor', 'USAGE') AS monitor, rolconnlimit AS limit FROM pg_roles WHERE rolname = 'learnflow_monitor_b'",
    );
    expect(membership).toEqual({ monitor: true, limit: 3 });
    const exporter = await connect(monitor.username, monitor.password, 'postgres');
    expect((await exporter.query('SELECT current_user')).rows).toEqual([{ current_user: 'learnflow_monitor' }]);
    await exporter.end();
    const job = await new JobPod(objects, 'monitor').run({ network: { host: '127.0.0.1', port: engine.port }, secrets: secretsNow() });
    expect(job.exitCode, job.stderr).toBe(0);
  }, 180_000);

  it('the single-login ordering the twins avoid: a new password on the login in use refuses every client that still has the old one', async () => {
    // What editing the Secret and re-running the migrations Job does: until a pod has restarted with the new
    // value, each of its reconnections is refused. The clients of the rotation above would have counted these.
    const { username, password } = secretNow(contract.app.name, APPS);
    expect(await canLogIn(username, password)).toBe('ok');
    await engine.query(`ALTER ROLE "${username}" PASSWORD 'edited-in-the-secret-and-re-run'`);
    try {
      expect(await canLogIn(username, password)).toBe('28P01');
    } finally {
      await engine.query(`ALTER ROLE "${username}" PASSWORD '${password}'`);
    }
    expect(await canLogIn(username, password)).toBe('ok');
  });

  it('refuses an unknown role, a role it does not rotate and conflicting flags: exit 3, nothing called', async () => {
    const before = readState();
    for (const [args, says] of [
      [['--rotate', 'nope'], '--rotate nope: no such role: --rotate takes one of app, dapr, monitoring'],
      [['--rotate', 'superuser'], 'secret learnflow-postgres-superuser is not rotated by --rotate'],
      [['--finish', 'seed-users'], 'secret learnflow-postgres-seed-users is not rotated by --finish'],
      [['--rotate', 'app', '--finish', 'app'], '--rotate and --finish: give one of them'],
      [['--rotate', 'app', '--dry-run'], '--dry-run applies to creating Secrets'],
    ] as const) {
      fs.rmSync(`${stateFile()}.calls`, { force: true });
      const result = await secrets(args);
      expect(result.exitCode, result.output).toBe(EXIT.usage);
      expect(result.stderr).toContain(says);
      expect(result.calls).toBe('');
    }
    expect(readState()).toEqual(before);
  }, 120_000);

  it('copies of a Secret that disagree are "could not check" (exit 2): no login and no Secret is changed', async () => {
    const state = readState();
    const key = `${APPS}/${contract.dapr.name}`;
    const edited = { ...state, secrets: { ...state.secrets, [key]: { ...state.secrets[key], data: { ...state.secrets[key].data, password: b64('a-hand-edited-password-0123') } } } };
    fs.writeFileSync(stateFile(), JSON.stringify(edited));
    const [before] = await engine.query<{ verifiers: string }>("SELECT string_agg(rolname || coalesce(rolpassword, ''), ',' ORDER BY rolname) AS verifiers FROM pg_authid WHERE rolname LIKE 'learnflow_dapr%'");
    fs.rmSync(`${stateFile()}.calls`, { force: true });
    const refused = await secrets(['--rotate', 'dapr']);
    expect(refused.exitCode, refused.output).toBe(EXIT.couldNotCheck);
    expect(refused.stderr).toContain(`the copies of secret ${contract.dapr.name} (namespaces postgres, ${APPS}) disagree`);
    expect(refused.calls).not.toMatch(/"exec"|"replace"/);
    expect(readState()).toEqual(edited);
    const [after] = await engine.query<{ verifiers: string }>("SELECT string_agg(rolname || coalesce(rolpassword, ''), ',' ORDER BY rolname) AS verifiers FROM pg_authid WHERE rolname LIKE 'learnflow_dapr%'");
    expect(after).toEqual(before);
  }, 120_000);
});
