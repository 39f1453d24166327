import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../lib/config/load';
import { LearnflowStack } from '../lib/learnflow-stack';
import { generateSecretValues } from '../lib/postgres/secrets';
import { type ProgramResult, runDaprComponents } from './harness/dapr-components/program';
import { writeDaprResources } from './harness/dapr-components/resources';
import { DAPR_COMPONENTS, locateBuild } from './harness/go-builds';
import { kafkaDistDir, kafkaEnginesAvailable, withAdmin } from './harness/kafka/client';
import { KafkaTestCluster } from './harness/kafka/cluster';
import { PostgresEngine, requirePostgresEngine } from './harness/postgres/engine';
import { JobPod, type SecretStore } from './harness/postgres/job-pod';
import { requireEngine } from './support/engines';
import { findObject, type K8sObject, ROOT, readDistDir, tempDir } from './support/synth';

// Dapr's own component code (components-contrib at the release daprd v1.18.3 embeds) loads the
// synthesized Components from dist/ and talks to the real Kafka and PostgreSQL 16 of the harnesses.
// daprd itself cannot be built from the Go module proxy (403 for github.com/dapr/durabletask-go); the
// program of test/harness/dapr-components loads components the way daprd does. The seams: broker and
// database addresses point at loopback, and the Kubernetes secret store is the local file one.
const TOPIC = 'learning.query';

const SUITE = 'Dapr components suite';

/** The program built by the engine preparation; in CI (CI=true) its absence fails the suite instead of skipping it. */
const built = locateBuild(DAPR_COMPONENTS);

const enginesAvailable = () => requireEngine(SUITE, built.missing) && kafkaEnginesAvailable(SUITE) && requirePostgresEngine(SUITE);

describe.skipIf(!enginesAvailable())('Dapr components-contrib with the synthesized components, on Kafka and PostgreSQL 16', () => {
  const config = loadConfig();
  const stack = new LearnflowStack(config);
  const contract = stack.postgres.secrets;
  const appId = config.dapr.appIds[0];
  /** The app-id's own pub/sub component (one per app-id, scoped to it). */
  const pubsubName = stack.dapr.pubsubNameOf(appId);
  const { daprSchema, daprRole, database } = config.postgres;
  const timings: Record<string, number> = {};
  let binary: string;
  let distDir: string;
  let cluster: KafkaTestCluster;
  let engine: PostgresEngine;
  let components: K8sObject[];
  /** The Secrets the Components reference, as the file secret store serves them. */
  let secretStore: SecretStore;
  const workDirs: string[] = [];

  /** A resources directory: the given Components, and the file secret store their auth.secretStore names. */
  function resourcesDir(objects: readonly K8sObject[]): string {
    const dir = tempDir('dapr-resources');
    workDirs.push(dir);
    return writeDaprResources(dir, objects, secretStore);
  }

  /** dist/'s Components with `edit` applied to a copy of one of them. */
  function withEdit(name: string, edit: (component: K8sObject) => void): string {
    const copies = structuredClone(components);
    edit(findObject(copies, 'Component', name));
    return resourcesDir(copies);
  }

  const metadataOf = (component: K8sObject): { name: string; value?: string; secretKeyRef?: { name: string; key: string } }[] =>
    component.spec.metadata;

  async function runProgram(resources: string, args: readonly string[], timing?: string): Promise<ProgramResult> {
    const started = Date.now();
    const result = await runDaprComponents(binary, { resources, appId, namespace: stack.dapr.namespace, args });
    if (timing) timings[timing] = Date.now() - started;
    return result;
  }

  const inDatabase = <Row extends Record<string, unknown>>(sql: string, params: unknown[] = []) =>
    engine.query<Row>(sql, params, { ...engine.superuser, database });

  beforeAll(async () => {
    binary = built.path!;
    const started = Date.now();
    // Kafka, the Components and the Jobs from one dist/, so that LEARNFLOW_KAFKA_CONFIG (another Kafka
    // image) also changes the component's `version`.
    distDir = kafkaDistDir('minikube');
    const objects = readDistDir(distDir);
    components = objects.filter((o) => o.kind === 'Component');
    // Values for every Secret of the contract, made as `npm run secrets` makes them.
    const secrets: SecretStore = Object.fromEntries(
      contract.all.map((secret) => [secret.name, secret.render(generateSecretValues(secret))]),
    );
    const server = findObject(objects, 'StatefulSet', 'postgres').spec.template.spec.containers[0];
    const postgres = (async () => {
      engine = await PostgresEngine.start({
        // args[0] is the entrypoint's 'postgres'; the rest are the server's own -c settings.
        args: server.args.slice(1),
        initdbArgs: server.env.find((e: { name: string }) => e.name === 'POSTGRES_INITDB_ARGS').value.split(' '),
        superuserPassword: secrets[contract.superuser.name].password,
      });
      // The roles, schema and grants exactly as production gets them: the migrations Job from dist/.
      const migrations = await new JobPod(objects, 'migrations').run({ network: { host: '127.0.0.1', port: engine.port }, secrets });
      expect(migrations.exitCode, `${migrations.stdout}\n${migrations.stderr}`).toBe(0);
      timings['postgres + migrations'] = Date.now() - started;
    })();

    const kafka = (async () => {
      cluster = await KafkaTestCluster.start({ distDir });
      // auto.create.topics.enable is off: the topics Job must have created learning.query.
      const topics = await cluster.runTopicsJob();
      expect(topics.exitCode, topics.output).toBe(0);
      timings['kafka + topics job'] = Date.now() - started;
    })();

    // allSettled: a failure of one must not leave the other unclosed by afterAll.
    const outcomes = await Promise.allSettled([postgres, kafka]);
    const failed = outcomes.find((outcome): outcome is PromiseRejectedResult => outcome.status === 'rejected');
    if (failed) throw failed.reason;

    // The one rewrite of the components: the in-cluster addresses become the harnesses' loopback ones.
    const pubsub = findObject(components, 'Component', pubsubName);
    const brokers = metadataOf(pubsub).find((item) => item.name === 'brokers')!;
    expect(brokers.value).toBe(stack.kafka.bootstrapServers);
    brokers.value = cluster.externalBootstrapServers.join(',');

    // The secret store holds the Secrets the Components reference, with the database address rewritten.
    const referenced = new Set(components.flatMap((c) => metadataOf(c).flatMap((item) => item.secretKeyRef?.name ?? [])));
    const toLoopback = (value: string) => value.replace(/\bhost=\S+/, 'host=127.0.0.1').replace(/\bport=\d+/, `port=${engine.port}`);
    secretStore = Object.fromEntries(
      [...referenced].map((name) => [name, Object.fromEntries(Object.entries(secrets[name]).map(([key, value]) => [key, toLoopback(value)]))]),
    );
    expect(secretStore[contract.dapr.name].connectionString).toContain(`port=${engine.port}`);
  }, 1_200_000);

  afterAll(async () => {
    await cluster?.close();
    await engine?.stop();
    if (distDir && !distDir.startsWith(ROOT)) fs.rmSync(distDir, { recursive: true, force: true });
    for (const dir of workDirs) fs.rmSync(dir, { recursive: true, force: true });
    const size = binary && fs.existsSync(binary) ? `${(fs.statSync(binary).size / 1e6).toFixed(1)} MB` : 'n/a';
    console.log(`dapr-components binary ${size}, Kafka ${cluster?.kafkaVersion}, timings (ms): ${JSON.stringify(timings)}`);
  }, 120_000);

  it(`publishes to ${TOPIC} and receives the same payload through a subscription of the {appID} consumer group`, async () => {
    const payload = JSON.stringify({ id: randomUUID(), question: 'what is a closure?' });
    const args = ['publish-subscribe', pubsubName, TOPIC, payload];
    const result = await runProgram(resourcesDir(components), args, 'publish-subscribe');
    expect(result, JSON.stringify(result)).toMatchObject({ ok: true, topic: TOPIC, received: payload });
    // Sarama speaks the protocol of the version the component names: it is the broker's own.
    const version = metadataOf(findObject(components, 'Component', pubsubName)).find((item) => item.name === 'version');
    expect(version?.value).toBe(cluster.kafkaVersion);
    // consumerGroup and clientID are '{appID}' in dist/: resolved as daprd resolves template tags.
    expect(result.consumerGroup).toBe(appId);
    expect(result.clientID).toBe(appId);

    // The broker agrees: the app-id's consumer group committed an offset past the message.
    const offsets = await withAdmin(cluster.externalBootstrapServers, (admin) => admin.fetchOffsets({ groupId: appId, topics: [TOPIC] }));
    const committed = offsets[0].partitions.map((p) => Number(p.offset)).filter((offset) => offset > 0);
    expect(committed.length).toBeGreaterThan(0);
  }, 180_000);

  it('saves, reads and deletes a state key, stored under the app-id prefix in the Dapr schema', async () => {
    const resources = resourcesDir(components);
    const store = stack.dapr.stateStoreName;
    const value = JSON.stringify({ studentId: randomUUID(), mastery: 0.42 });
    const table = `${daprSchema}.${config.dapr.stateStore.tablePrefix}state`;
    const storedKey = `${appId}||session`;

    expect(await runProgram(resources, ['state-save', store, 'session', value], 'state-save')).toMatchObject({ ok: true, key: storedKey });
    const rows = await inDatabase(`SELECT convert_from(value, 'UTF8') AS value FROM ${table} WHERE key = $1`, [storedKey]);
    expect(rows).toEqual([{ value }]);

    expect(await runProgram(resources, ['state-get', store, 'session'], 'state-get')).toMatchObject({ ok: true, found: true, value });
    expect(await runProgram(resources, ['state-delete', store, 'session'], 'state-delete')).toMatchObject({ ok: true });
    expect(await runProgram(resources, ['state-get', store, 'session'])).toMatchObject({ ok: true, found: false });
    expect(await inDatabase(`SELECT key FROM ${table} WHERE key = $1`, [storedKey])).toEqual([]);
  }, 120_000);

  it(`creates the state tables in the ${daprSchema} schema, owned by the Dapr role, and nothing in public`, async () => {
    expect(await runProgram(resourcesDir(components), ['init', stack.dapr.stateStoreName])).toMatchObject({ ok: true });
    const tables = await inDatabase<{ schema: string; table: string; owner: string }>(
      'SELECT schemaname AS schema, tablename AS table, tableowner AS owner FROM pg_tables WHERE tableowner = $1 ORDER BY 1, 2',
      [daprRole],
    );
    expect(tables).toEqual([
      { schema: daprSchema, table: 'dapr_metadata', owner: daprRole },
      { schema: daprSchema, table: `${config.dapr.stateStore.tablePrefix}state`, owner: daprRole },
    ]);
  }, 60_000);

  it('initializes every synthesized pub/sub and state store component', async () => {
    const resources = resourcesDir(components);
    for (const name of [pubsubName, stack.dapr.stateStoreName]) {
      expect(await runProgram(resources, ['init', name], `init ${name}`), name).toMatchObject({ ok: true, component: name });
    }
  }, 120_000);

  interface BrokenComponent {
    readonly name: string;
    readonly component: string;
    readonly edit: (component: K8sObject) => void;
    readonly error: RegExp;
  }
  const broken: BrokenComponent[] = [
    {
      name: 'a pubsub.kafka without authType',
      component: pubsubName,
      edit: (c) => (c.spec.metadata = metadataOf(c).filter((item) => item.name !== 'authType')),
      error: /'authType' attribute was missing or empty/,
    },
    {
      name: 'a pubsub.kafka version Sarama cannot parse',
      component: pubsubName,
      edit: (c) => (metadataOf(c).find((item) => item.name === 'version')!.value = '4.1'),
      error: /invalid kafka version/,
    },
    {
      name: 'a state store whose secretKeyRef names a key the Secret does not have',
      component: stack.dapr.stateStoreName,
      edit: (c) => (metadataOf(c).find((item) => item.name === 'connectionString')!.secretKeyRef!.key = 'connection-string'),
      error: /failed to build connection string/,
    },
    {
      // The Dapr role may create tables in its schema only (seed/privileges.sql), not in public.
      name: 'a state store whose tables would go to the public schema',
      component: stack.dapr.stateStoreName,
      edit: (c) => (metadataOf(c).find((item) => item.name === 'tablePrefix')!.value = 'public.learnflow_'),
      error: /permission denied for schema public/,
    },
  ];

  it.each(broken)('fails to initialize $name', async ({ component, edit, error }) => {
    const result = await runProgram(withEdit(component, edit), ['init', component]);
    expect(result).toMatchObject({ ok: false, stage: 'init' });
    expect(result.error).toMatch(error);
  }, 60_000);
});
