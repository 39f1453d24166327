import * as fs from 'node:fs';
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

describe.skipIf(!kafkaEnginesAvailable('Kafka three-broker suite'))('Kafka from a production-profile synth (3 brokers, 3 dedicated controllers)', () => {
  let distDir: string;
  let cluster: KafkaTestCluster;
  let declared: DeclaredTopic[];
  const timings: Record<string, number> = {};

  beforeAll(async () => {
    distDir = kafkaDistDir('production');
    cluster = await KafkaTestCluster.start({ distDir });
    timings['cluster start'] = cluster.startupMs;
    declared = parseTopicsConf(distTopicsConf(cluster));
  }, 600_000);

  afterAll(async () => {
    await cluster?.close();
    if (distDir) fs.rmSync(distDir, { recursive: true, force: true });
    console.log(`Kafka ${cluster?.kafkaVersion}, 3 brokers, timings (ms): ${JSON.stringify(timings)}`);
  }, 120_000);

  it('forms a quorum of the three dedicated voters, every broker registered and none of them a voter', async () => {
    expect(cluster.brokerCount).toBe(3);
    expect(cluster.controllerPods).toEqual(['kafka-controller-0', 'kafka-controller-1', 'kafka-controller-2']);
    const quorum = await cluster.runTool('kafka-metadata-quorum.sh', ['--bootstrap-server', cluster.internalBootstrapServers, 'describe', '--status']);
    expect(quorum.exitCode, quorum.output).toBe(0);
    const voters = JSON.parse(/^CurrentVoters:\s+(.*)$/m.exec(quorum.stdout)![1]) as { id: number }[];
    expect(voters.map((v) => v.id).sort()).toEqual([100, 101, 102]);
    expect([100, 101, 102]).toContain(Number(/^LeaderId:\s+(\d+)$/m.exec(quorum.stdout)![1]));
    const observers = JSON.parse(/^CurrentObservers:\s+(.*)$/m.exec(quorum.stdout)![1]) as { id: number }[];
    expect(observers.map((o) => o.id).sort()).toEqual([0, 1, 2]);

    const registered = await withAdmin(cluster.externalBootstrapServers, (admin) => admin.describeCluster());
    expect(registered.brokers.map((b) => `${b.nodeId} ${b.host}:${b.port}`).sort()).toEqual([
      '0 localhost:19092',
      '1 localhost:19093',
      '2 localhost:19094',
    ]);
    expect(cluster.serverProperties(2).get('min.insync.replicas')).toBe('2');
  }, 120_000);

  it("creates every declared topic with the topics Job's own script, replicated to all brokers", async () => {
    const run = await cluster.runTopicsJob();
    timings['topics job, first run'] = run.durationMs;
    expect(run.exitCode, run.output).toBe(0);
    expect(run.output).toContain(`summary: created=${declared.length} altered=0 unchanged=0 warnings=0`);
    const state = await describeTopics(cluster.externalBootstrapServers, declared.map((t) => t.name));
    for (const topic of declared) {
      expect(topic.replicationFactor, topic.name).toBe(3);
      expect(state.get(topic.name), topic.name).toEqual({
        partitions: topic.partitions,
        replicationFactor: 3,
        topicConfigs: topic.configs,
      });
    }
  }, 120_000);

  it('keeps accepting acks=all writes with one broker stopped, and loses none of them', async () => {
    const topic = declared.find((t) => t.configs['min.insync.replicas'] === '2');
    expect(topic, 'a topic with min.insync.replicas=2').toBeDefined();
    const before = Array.from({ length: 20 }, (_, i) => `three-up-${i}`);
    await produce(cluster.externalBootstrapServers, topic!.name, before, -1);

    let started = Date.now();
    await cluster.stop(2);
    timings['controlled shutdown of broker 2'] = Date.now() - started;
    const during = Array.from({ length: 20 }, (_, i) => `two-up-${i}`);
    await produce(cluster.externalBootstrapServers, topic!.name, during, -1);

    started = Date.now();
    await cluster.start(2);
    timings['broker 2 back'] = Date.now() - started;
    const received = await consume(cluster.externalBootstrapServers, topic!.name, 'harness-one-down', before.length + during.length);
    expect(received.sort()).toEqual([...before, ...during].sort());
  }, 120_000);
});
