import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  consume,
  type DeclaredTopic,
  describeTopics,
  distTopicsConf,
  kafkaDistDir,
  kafkaEnginesAvailable,
  parseTopicsConf,
  produce,
  withAdmin,
} from './harness/kafka/client';
import { KafkaTestCluster } from './harness/kafka/cluster';
import { type ProcessResult, sleep } from './harness/processes';
import { envOf, findObject, readDistDir, ROOT, runSynthCli, tempDir } from './support/synth';

// KafkaDockerWrapper's ExcludeServerPropsEnv: KAFKA_* variables of the image that are not broker properties.
const IMAGE_ENV_NOT_PROPERTIES = [
  'KAFKA_VERSION',
  'KAFKA_HEAP_OPTS',
  'KAFKA_LOG4J_OPTS',
  'KAFKA_OPTS',
  'KAFKA_JMX_OPTS',
  'KAFKA_JVM_PERFORMANCE_OPTS',
  'KAFKA_GC_LOG_OPTS',
  'KAFKA_LOG4J_ROOT_LOGLEVEL',
  'KAFKA_LOG4J_LOGGERS',
  'KAFKA_TOOLS_LOG4J_LOGLEVEL',
  'KAFKA_JMX_HOSTNAME',
];

const SUMMARY = /^\[reconcile-topics\] summary: created=(\d+) altered=(\d+) unchanged=(\d+) warnings=(\d+)$/m;

function summaryOf(run: ProcessResult): { created: number; altered: number; unchanged: number; warnings: number } {
  const match = SUMMARY.exec(run.output);
  if (!match) throw new Error(`no summary in the topics Job's output (exit ${run.exitCode}):\n${run.output}`);
  const [created, altered, unchanged, warnings] = match.slice(1).map(Number);
  return { created, altered, unchanged, warnings };
}

function withTopic(topics: readonly DeclaredTopic[], name: string, change: Partial<DeclaredTopic>): string {
  return topics
    .map((t) => ({ ...t, ...(t.name === name ? change : {}) }))
    .map((t) => `${t.name} ${t.partitions} ${t.replicationFactor} ${Object.entries(t.configs).map(([k, v]) => `${k}=${v}`).join(',')}`)
    .join('\n');
}

describe.skipIf(!kafkaEnginesAvailable('Kafka single-broker suite'))('Kafka from dist/ (minikube profile, 1 broker)', () => {
  let distDir: string;
  let cluster: KafkaTestCluster;
  let brokers: string[];
  let declared: DeclaredTopic[];
  const timings: Record<string, number> = {};

  beforeAll(async () => {
    distDir = kafkaDistDir('minikube');
    cluster = await KafkaTestCluster.start({ distDir });
    timings['cluster start'] = cluster.startupMs;
    brokers = cluster.externalBootstrapServers;
    declared = parseTopicsConf(distTopicsConf(cluster));
  }, 600_000);

  afterAll(async () => {
    await cluster?.close();
    if (distDir && !distDir.startsWith(ROOT)) fs.rmSync(distDir, { recursive: true, force: true });
    console.log(`Kafka ${cluster?.kafkaVersion}, 1 broker, timings (ms): ${JSON.stringify(timings)}`);
  }, 120_000);

  it('forms a KRaft quorum of the declared voters, configured from the StatefulSet env', async () => {
    const quorum = await cluster.runTool('kafka-metadata-quorum.sh', ['--bootstrap-server', cluster.internalBootstrapServers, 'describe', '--status']);
    expect(quorum.exitCode, quorum.output).toBe(0);
    const voters = JSON.parse(/^CurrentVoters:\s+(.*)$/m.exec(quorum.stdout)![1]) as { id: number }[];
    expect(voters.map((v) => v.id)).toEqual([0]);
    expect(Number(/^LeaderId:\s+(\d+)$/m.exec(quorum.stdout)![1])).toBe(0);

    // Exactly the StatefulSet's KAFKA_* variables became properties (plus the advertised listeners its
    // script exports): nothing injected, e.g. by Kubernetes service links.
    const properties = cluster.serverProperties(0);
    const container = cluster.manifests.statefulSet.spec.template.spec.containers[0];
    const declaredProperties = (container.env as { name: string }[])
      .map((e) => e.name)
      .filter((name) => name.startsWith('KAFKA_') && !IMAGE_ENV_NOT_PROPERTIES.includes(name))
      .map((name) => name.slice('KAFKA_'.length).toLowerCase().replace(/_/g, '.').replace(/\.\.\./g, '-').replace(/\.\./g, '_'));
    expect([...properties.keys()].sort()).toEqual([...declaredProperties, 'advertised.listeners'].sort());
    expect(properties.get('node.id')).toBe('0');
    expect(properties.get('advertised.listeners')).toBe(
      'INTERNAL://kafka-0.kafka-headless.kafka.svc.cluster.local:9092,EXTERNAL://localhost:19092',
    );
    // The single-broker trap: internal topics must not ask for more replicas than there are brokers.
    expect(properties.get('offsets.topic.replication.factor')).toBe('1');
    expect(properties.get('transaction.state.log.replication.factor')).toBe('1');
    expect(properties.get('auto.create.topics.enable')).toBe('false');
  }, 120_000);

  it("runs the topics Job's own script: every declared topic, with its partitions, replication factor and configs", async () => {
    expect(declared.length).toBe(10);
    const run = await cluster.runTopicsJob();
    timings['topics job, first run'] = run.durationMs;
    expect(run.exitCode, run.output).toBe(0);
    expect(summaryOf(run)).toEqual({ created: declared.length, altered: 0, unchanged: 0, warnings: 0 });

    const state = await describeTopics(brokers, declared.map((t) => t.name));
    for (const topic of declared) {
      expect(state.get(topic.name), topic.name).toEqual({
        partitions: topic.partitions,
        replicationFactor: topic.replicationFactor,
        topicConfigs: topic.configs,
      });
    }
  }, 120_000);

  it('changes nothing when the Job runs again', async () => {
    const before = await describeTopics(brokers, declared.map((t) => t.name));
    const run = await cluster.runTopicsJob();
    timings['topics job, no-op re-run'] = run.durationMs;
    expect(run.exitCode, run.output).toBe(0);
    expect(summaryOf(run)).toEqual({ created: 0, altered: 0, unchanged: declared.length, warnings: 0 });
    expect(run.output).not.toMatch(/ -> |create /);
    expect(await describeTopics(brokers, declared.map((t) => t.name))).toEqual(before);
  }, 120_000);

  it('produces and consumes through a consumer group with kafkajs', async () => {
    const topic = declared[0].name;
    const messages = Array.from({ length: 30 }, (_, i) => `round-trip-${i}`);
    await produce(brokers, topic, messages);
    const received = await consume(brokers, topic, 'harness-round-trip', messages.length);
    expect(received.sort()).toEqual([...messages].sort());
    const offsets = await withAdmin(brokers, (admin) => admin.fetchOffsets({ groupId: 'harness-round-trip', topics: [topic] }));
    const committed = offsets[0].partitions.reduce((sum, p) => sum + Number(p.offset), 0);
    expect(committed).toBe(messages.length);
  }, 120_000);

  it('applies a raised partition count and a changed retention, keeps an out-of-band config, and loses no message', async () => {
    const topic = declared.find((t) => t.name === 'learning.response') ?? declared[1];
    const before = Array.from({ length: 50 }, (_, i) => `before-${i}`);
    await produce(brokers, topic.name, before);
    // An operator's own setting, made with the incremental tool, outside the declared spec.
    const outOfBand = await cluster.runTool('kafka-configs.sh', [
      '--bootstrap-server', cluster.internalBootstrapServers,
      '--alter', '--entity-type', 'topics', '--entity-name', topic.name, '--add-config', 'max.message.bytes=2097152',
    ]);
    expect(outOfBand.exitCode, outOfBand.output).toBe(0);

    const retention = String(Number(topic.configs['retention.ms'] ?? 604_800_000) * 2);
    const changed = withTopic(declared, topic.name, {
      partitions: topic.partitions * 2,
      configs: { ...topic.configs, 'retention.ms': retention },
    });
    const run = await cluster.runTopicsJob({ topicsConf: changed });
    expect(run.exitCode, run.output).toBe(0);
    expect(summaryOf(run)).toEqual({ created: 0, altered: 1, unchanged: declared.length - 1, warnings: 0 });
    expect(run.output).toContain(`${topic.name}: partitions ${topic.partitions} -> ${topic.partitions * 2}`);

    const state = (await describeTopics(brokers, [topic.name])).get(topic.name)!;
    expect(state.partitions).toBe(topic.partitions * 2);
    expect(state.topicConfigs).toEqual({ ...topic.configs, 'retention.ms': retention, 'max.message.bytes': '2097152' });

    const after = Array.from({ length: 50 }, (_, i) => `after-${i}`);
    await produce(brokers, topic.name, after);
    const received = await consume(brokers, topic.name, 'harness-after-resize', before.length + after.length);
    expect(received.sort()).toEqual([...before, ...after].sort());
  }, 120_000);

  it('only warns, never shrinks, when the declared partition count is below the existing one', async () => {
    const topic = declared.find((t) => t.name === 'learning.response') ?? declared[1];
    const partitionsBefore = (await describeTopics(brokers, [topic.name])).get(topic.name)!.partitions;
    const run = await cluster.runTopicsJob();
    expect(run.exitCode, run.output).toBe(0);
    expect(run.output).toContain(`warning: ${topic.name} has ${partitionsBefore} partitions, more than the declared ${topic.partitions}`);
    // The retention goes back to the declared value; the out-of-band config stays.
    expect(summaryOf(run)).toEqual({ created: 0, altered: 1, unchanged: declared.length - 1, warnings: 1 });
    const state = (await describeTopics(brokers, [topic.name])).get(topic.name)!;
    expect(state.partitions).toBe(partitionsBefore);
    expect(state.topicConfigs).toEqual({ ...topic.configs, 'max.message.bytes': '2097152' });
  }, 120_000);

  it('waits for the brokers within WAIT_TIMEOUT_SECONDS: fails when they stay away, succeeds when they come back', async () => {
    await cluster.stop(0);
    const givingUp = await cluster.runTopicsJob({ env: { WAIT_TIMEOUT_SECONDS: '5' } });
    timings['topics job, giving up after 5 s'] = givingUp.durationMs;
    expect(givingUp.exitCode).toBe(1);
    expect(givingUp.output).toContain('do not answer yet');
    expect(givingUp.output).toContain('error: topics not reconciled within 5s');
    // One admin call is bounded too (default.api.timeout.ms), so giving up never takes long.
    expect(givingUp.durationMs).toBeLessThan(60_000);

    const waiting = cluster.runTopicsJob();
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    await cluster.start(0);
    const run = await waiting;
    expect(run.exitCode, run.output).toBe(0);
    expect(summaryOf(run).created).toBe(0);
  }, 180_000);

  it("stops a broker that finds another cluster's data on its volume, saying so", async () => {
    const clusterIdOf = (dir: string) => envOf(findObject(readDistDir(dir), 'StatefulSet', 'kafka').spec.template.spec.containers[0]).CLUSTER_ID;
    const onVolume = clusterIdOf(distDir);
    await cluster.close({ keepData: true });
    // Another install (an explicit kafka.clusterId) on this install's claim.
    const other = { kafka: { clusterId: 'MkU3OEVBNTcwNTJENDM2Qg' } };
    const work = tempDir('kafka-other-install');
    fs.writeFileSync(path.join(work, 'other.yaml'), JSON.stringify(other));
    const synth = runSynthCli(['--quiet', '--profile', 'minikube', '--config', path.join(work, 'other.yaml'), '--out', path.join(work, 'dist')]);
    expect(synth.status, synth.stderr).toBe(0);
    expect(clusterIdOf(path.join(work, 'dist'))).toBe(other.kafka.clusterId);
    const second = await KafkaTestCluster.start({ distDir: path.join(work, 'dist'), dataFrom: cluster.dir, waitUntilReady: false });
    try {
      const deadline = Date.now() + 30_000;
      while (second.isRunning('kafka-0') && Date.now() < deadline) await sleep(200);
      expect(second.isRunning('kafka-0'), second.podLog('kafka-0')).toBe(false);
      // The claim's pod directory keeps the first install's console log: this pod's lines follow it.
      const log = second.podLog('kafka-0');
      const refusal = log.slice(log.lastIndexOf('refusing to start'));
      expect(refusal).toMatch(new RegExp(`^refusing to start: the volume at \\S+ holds the data of another Kafka cluster \\(cluster.id ${onVolume}\\), this install is cluster ${other.kafka.clusterId}\\.`));
      expect(refusal).toContain(`kafka.clusterId must be set to ${onVolume}`);
      // Refused before the launcher ran: nothing formatted, no listener bound.
      expect(refusal).not.toMatch(/Formatting|Binding listeners/);
    } finally {
      await second.close();
      fs.rmSync(work, { recursive: true, force: true });
    }
  }, 120_000);
});
