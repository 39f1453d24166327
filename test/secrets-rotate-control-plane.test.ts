import * as fs from 'node:fs';
import * as path from 'node:path';
import { Client } from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../lib/config/load';
import { EXIT } from '../lib/exit-codes';
import { LearnflowStack } from '../lib/learnflow-stack';
import { ControlPlane } from './harness/control-plane/control-plane';
import { CONTROL_PLANE, locateBuild } from './harness/go-builds';
import { PostgresEngine, requirePostgresEngine } from './harness/postgres/engine';
import { JobPod } from './harness/postgres/job-pod';
import { type ProcessResult, runProcess } from './harness/processes';
import { requireEngine } from './support/engines';
import { findObject, ROOT, readDistDir, tempDir } from './support/synth';

// `npm run secrets` and `--rotate app` against a real kube-apiserver: the Secrets are created, then replaced in
// both namespaces, and the restarts are read from the live Deployments. The control plane runs no container, so
// the command's `kubectl exec` of psql into the server pod runs against a real PostgreSQL 16 on loopback instead
// (test/harness/postgres/psql-exec-kubectl.js); every other kubectl call is the real one.
const SUITE = 'npm run secrets --rotate on the control plane';
const built = locateBuild(CONTROL_PLANE);
const WRAPPER = path.join(__dirname, 'harness/postgres/psql-exec-kubectl.js');
const APPS = 'learnflow';

describe.skipIf(!requireEngine(SUITE, built.missing) || !requirePostgresEngine(SUITE))('npm run secrets --rotate on a real control plane', () => {
  let plane: ControlPlane;
  let engine: PostgresEngine;
  let env: NodeJS.ProcessEnv;
  const contract = new LearnflowStack(loadConfig()).postgres.secrets;
  const secrets = (args: readonly string[]): Promise<ProcessResult> =>
    runProcess(process.execPath, [path.join(ROOT, 'build', 'scripts', 'secrets.js'), ...args], env, 120_000);
  const secretOf = async (name: string, namespace: string) => {
    const secret = await plane.getJson(['secret', name, '-n', namespace]);
    const data = Object.fromEntries(Object.entries(secret.data as Record<string, string>).map(([k, v]) => [k, Buffer.from(v, 'base64').toString()]));
    return { data, resourceVersion: secret.metadata.resourceVersion as string, labels: secret.metadata.labels };
  };
  const contractState = async () => {
    const state: Record<string, string> = {};
    for (const secret of contract.all) for (const namespace of secret.namespaces) state[`${namespace}/${secret.name}`] = (await secretOf(secret.name, namespace)).resourceVersion;
    return state;
  };
  const logIn = async (user: string, password: string) => {
    const client = new Client({ host: '127.0.0.1', port: engine.port, user, password, database: 'learnflow_db' });
    client.on('error', () => undefined);
    return client.connect().then(
      async () => {
        await client.end();
        return 'ok';
      },
      (error: { code?: string }) => error.code ?? 'error',
    );
  };

  beforeAll(async () => {
    const objects = readDistDir(path.join(ROOT, 'dist'));
    // One simulated node: the service's pod runs, with the start times --finish compares with the rotation's.
    plane = await ControlPlane.start({ nodes: 1 });
    await plane.kubectlOk(['apply', '--server-side', '-f', path.join(ROOT, 'dist', '00-namespaces.yaml')]);
    // A LearnFlow service: its env reads the app Secret, and it has a Dapr sidecar.
    const service = {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'triage-agent', namespace: APPS },
      spec: {
        replicas: 1,
        selector: { matchLabels: { app: 'triage-agent' } },
        template: {
          metadata: { labels: { app: 'triage-agent' }, annotations: { 'dapr.io/enabled': 'true', 'dapr.io/app-id': 'triage-agent' } },
          spec: {
            // Restricted, as the namespace's Pod Security admission demands.
            securityContext: { runAsNonRoot: true, runAsUser: 1000, seccompProfile: { type: 'RuntimeDefault' } },
            containers: [
              {
                name: 'app',
                image: 'example/triage:1',
                securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } },
                env: [{ name: 'DATABASE_URL', valueFrom: { secretKeyRef: { name: contract.app.name, key: 'connectionString' } } }],
              },
            ],
          },
        },
      },
    };
    const manifest = path.join(tempDir('rotate-plane'), 'service.json');
    fs.writeFileSync(manifest, JSON.stringify(service));
    await plane.kubectlOk(['apply', '-f', manifest]);
    await plane.kubectlOk(['-n', APPS, 'rollout', 'status', 'deployment/triage-agent', '--timeout=120s'], { timeoutMs: 130_000 });

    const bin = tempDir('rotate-kubectl');
    fs.symlinkSync(WRAPPER, path.join(bin, 'kubectl'));
    const planeEnv = plane.env;
    env = { ...planeEnv, PATH: `${bin}${path.delimiter}${planeEnv.PATH}`, REAL_KUBECTL: path.join(built.path!, 'kubectl') };
    const created = await secrets([]);
    expect(created.exitCode, created.output).toBe(EXIT.ok);

    const superuser = (await secretOf(contract.superuser.name, 'postgres')).data.password;
    const server = findObject(objects, 'StatefulSet', 'postgres').spec.template.spec.containers[0];
    engine = await PostgresEngine.start({
      args: server.args.slice(1),
      initdbArgs: server.env.find((e: { name: string }) => e.name === 'POSTGRES_INITDB_ARGS').value.split(' '),
      superuserPassword: superuser,
    });
    env.FAKE_KUBECTL_PSQL = JSON.stringify({ host: '127.0.0.1', port: engine.port, user: 'postgres', password: superuser });
    const store = Object.fromEntries(await Promise.all(contract.all.map(async (secret) => [secret.name, (await secretOf(secret.name, 'postgres')).data] as const)));
    const migrations = await new JobPod(objects, 'migrations').run({ network: { host: '127.0.0.1', port: engine.port }, secrets: store });
    expect(migrations.exitCode, migrations.stderr).toBe(0);
  }, 400_000);

  afterAll(async () => {
    await engine?.stop();
    await plane?.stop();
  });

  it('a role it does not rotate is refused with exit 3, and no Secret changes', async () => {
    const before = await contractState();
    const refused = await secrets(['--rotate', 'superuser']);
    expect(refused.exitCode, refused.output).toBe(EXIT.usage);
    expect(refused.stderr).toContain('is not rotated by --rotate');
    expect(await contractState()).toEqual(before);
  });

  it('--rotate app replaces both copies on the API server and names the live Deployment to restart; --finish refuses while its pod predates the rotation, then retires the old login', async () => {
    const before = await secretOf(contract.app.name, APPS);
    const versions = await contractState();
    const rotated = await secrets(['--rotate', 'app']);
    expect(rotated.exitCode, rotated.output).toBe(EXIT.ok);
    expect(rotated.stdout).toContain(`kubectl -n ${APPS} rollout restart deployment/triage-agent`);
    for (const namespace of contract.app.namespaces) {
      const after = await secretOf(contract.app.name, namespace);
      expect(after.data.username).toBe('learnflow_b');
      expect(after.data.connectionString).toBe(before.data.connectionString.replace(`learnflow:${before.data.password}@`, `learnflow_b:${after.data.password}@`));
      expect(after.labels).toEqual(before.labels);
      expect(rotated.output).not.toContain(after.data.password);
    }
    expect(rotated.output).not.toContain(before.data.password);
    // Only the app Secret changed.
    const now = await contractState();
    for (const [key, version] of Object.entries(versions)) if (!key.endsWith(`/${contract.app.name}`)) expect(now[key], key).toBe(version);
    const after = (await secretOf(contract.app.name, APPS)).data;
    expect(await logIn(before.data.username, before.data.password)).toBe('ok');
    expect(await logIn(after.username, after.password)).toBe('ok');

    // The service's pod started before the rotation: it holds no session (kwok runs no container), yet its
    // env has the old password, so --finish refuses, naming it, and changes nothing.
    const early = await secrets(['--finish', 'app']);
    expect(early.exitCode, early.output).toBe(EXIT.preflight);
    const stale = /pod (triage-agent-[a-z0-9-]+) in learnflow \(running since .*; rotated at .*\)/.exec(early.stderr);
    expect(stale, early.output).not.toBeNull();
    expect(await logIn(before.data.username, before.data.password)).toBe('ok');
    // The restart --rotate printed: the new pod started after the rotation.
    await plane.kubectlOk(['-n', APPS, 'rollout', 'restart', 'deployment/triage-agent']);
    await plane.kubectlOk(['-n', APPS, 'rollout', 'status', 'deployment/triage-agent', '--timeout=120s'], { timeoutMs: 130_000 });
    // A terminating pod still runs (its grace period), so --finish counts it until it is gone.
    await plane.kubectlOk(['-n', APPS, 'wait', '--for=delete', `pod/${stale![1]}`, '--timeout=60s'], { timeoutMs: 70_000 });
    const finished = await secrets(['--finish', 'app']);
    expect(finished.exitCode, finished.output).toBe(EXIT.ok);
    expect(await logIn(before.data.username, before.data.password)).toBe('28P01');
    expect(await logIn(after.username, after.password)).toBe('ok');
  });
});
