import * as fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kafkaDistDir, kafkaEnginesAvailable, produce } from './harness/kafka/client';
import { KafkaTestCluster } from './harness/kafka/cluster';
import { sleep } from './harness/processes';
import { usedMetricNames } from './observability/metric-names';
import { type Sample, scrape } from './observability/scrape';
import { readDistDir } from './support/synth';

/** The metrics URL of a Kafka pod, from its StatefulSet's own port and the pod IP the harness gives it. */
function metricsUrl(cluster: KafkaTestCluster, pod: string): string {
  const port = cluster.statefulSetOf(pod).spec.template.spec.containers[0].ports.find((p: { name: string }) => p.name === 'metrics').containerPort;
  return `http://${cluster.podIP(pod)}:${port}/metrics`;
}

/** One scrape of each pod named. */
const scrapeAll = (cluster: KafkaTestCluster, pods: readonly string[]) => Promise.all(pods.map((pod) => scrape(metricsUrl(cluster, pod))));

const total = (samples: readonly Sample[], name: string) => samples.filter((s) => s.name === name).reduce((sum, s) => sum + s.value, 0);

describe.skipIf(!kafkaEnginesAvailable('Kafka metrics suite'))('the metrics agent inside real brokers and controllers (production profile, 3 brokers, 3 dedicated controllers)', () => {
  let distDir: string;
  let cluster: KafkaTestCluster;
  const scrapeMs: number[] = [];

  beforeAll(async () => {
    distDir = kafkaDistDir('production');
    cluster = await KafkaTestCluster.start({ distDir });
    const run = await cluster.runTopicsJob();
    expect(run.exitCode, run.output).toBe(0);
    // Per-topic MBeans exist once a topic has traffic.
    await produce(cluster.externalBootstrapServers, 'learning.query', ['a', 'b', 'c']);
    // The production profile keeps the voters apart: their agents report the quorum.
    expect(cluster.controllerPods).toHaveLength(3);
  }, 600_000);

  afterAll(async () => {
    await cluster?.close();
    if (distDir) fs.rmSync(distDir, { recursive: true, force: true });
    const sorted = [...scrapeMs].sort((a, b) => a - b);
    console.log(`Kafka agent scrapes: ${sorted.length}, median ${sorted[Math.floor(sorted.length / 2)]?.toFixed(0)} ms, max ${sorted.at(-1)?.toFixed(0)} ms`);
  }, 120_000);

  const everyPod = () => [...cluster.brokerPods, ...cluster.controllerPods];

  it('every kafka_* and jvm_* metric an alert or dashboard uses is in a real scrape of the Kafka pods', async () => {
    const used = [...usedMetricNames(readDistDir(distDir)).keys()].filter((name) => /^(kafka|jvm)_/.test(name));
    expect(used.length).toBeGreaterThan(10);
    let missing: string[] = used;
    // The agent looks the MBeans up a few seconds after start, and per-topic ones after the first traffic.
    for (let attempt = 0; attempt < 30 && missing.length > 0; attempt++) {
      const scrapes = await scrapeAll(cluster, everyPod());
      for (const s of scrapes) scrapeMs.push(s.durationMs);
      const names = new Set(scrapes.flatMap((s) => s.samples.map((sample) => sample.name)));
      missing = used.filter((name) => !names.has(name));
      if (missing.length > 0) await sleep(2_000);
    }
    expect(missing).toEqual([]);
  }, 180_000);

  it('one active controller, reported by a dedicated controller, no partition under-replicated while all brokers run', async () => {
    const controllers = (await scrapeAll(cluster, cluster.controllerPods)).flatMap((s) => s.samples);
    const all = [...controllers, ...(await scrapeAll(cluster, cluster.brokerPods)).flatMap((s) => s.samples)];
    expect(total(all, 'kafka_controller_active_count')).toBe(1);
    expect(total(controllers, 'kafka_controller_active_count')).toBe(1);
    expect(total(all, 'kafka_partition_under_replicated')).toBe(0);
    expect(total(all, 'kafka_partition_offline')).toBe(0);
    // The 3 learning.query messages are counted once each, by the leaders of the partitions they went to
    // (each broker's agent finds the per-topic MBean after its first append, at its next bean discovery).
    let counted = 0;
    for (let attempt = 0; attempt < 30 && counted !== 3; attempt++) {
      const samples = (await scrapeAll(cluster, cluster.brokerPods)).flatMap((s) => s.samples);
      counted = total(samples.filter((s) => s.labels.topic === 'learning.query'), 'kafka_topic_messages_in_total');
      if (counted !== 3) await sleep(2_000);
    }
    expect(counted).toBe(3);
  }, 120_000);

  it('stopping a broker moves the under-replicated-partitions metric above 0, as KafkaUnderReplicatedPartitions expects', async () => {
    await cluster.stop(2);
    let underReplicated = 0;
    for (let attempt = 0; attempt < 60 && underReplicated === 0; attempt++) {
      const scrapes = await scrapeAll(cluster, cluster.brokerPods.slice(0, 2));
      underReplicated = total(scrapes.flatMap((s) => s.samples), 'kafka_partition_under_replicated');
      if (underReplicated === 0) await sleep(1_000);
    }
    // Every LearnFlow topic has 3 replicas, one of them on the stopped broker.
    expect(underReplicated).toBeGreaterThan(0);
    const all = (await scrapeAll(cluster, [...cluster.brokerPods.slice(0, 2), ...cluster.controllerPods])).flatMap((s) => s.samples);
    expect(total(all, 'kafka_partition_offline')).toBe(0);
    expect(total(all, 'kafka_controller_active_count')).toBe(1);
  }, 180_000);
});
