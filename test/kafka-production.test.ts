import * as fs from 'node:fs';
import * as path from 'node:path';
import { ConfigResourceTypes, ConfigSource } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { referenceDir } from '../lib/platform/project-files';
import { kafkaLiveRemovedBrokersEmpty } from '../verify/checks/kafka-live';
import { ReferenceData } from '../verify/context';
import { KafkaTarget } from '../verify/data-plane/kafka-target';
import { loadDist } from '../verify/dist';
import { issueDistCertificates } from './harness/kafka/certificates';
import { type DeclaredTopic, describeTopics, distTopicsConf, kafkaDistDir, kafkaEnginesAvailable, parseTopicsConf, produce, withAdmin } from './harness/kafka/client';
import { KafkaTestCluster } from './harness/kafka/cluster';
import { UPGRADE_FROM_KAFKA_VERSION } from './harness/kafka/jars';
import { type LoadReport, LoadRun, quantile } from './harness/kafka/load';
import { loadKafkaManifests } from './harness/kafka/manifests';
import { drainNode, type EventLog, PodReadiness, rollingUpdate } from './harness/kafka/operations';
import { type ProcessResult, sleep } from './harness/processes';
import { usedMetricNames } from './observability/metric-names';
import { type Sample, scrape } from './observability/scrape';
import { readDistDir, tempDir } from './support/synth';

// The production profile's Kafka on real brokers, one cluster for the whole file (a start of six JVMs is the
// costliest step), installed at an older 4.x release (UPGRADE_FROM_KAFKA_VERSION): the quorum and the topics
// Job; the metrics agent inside every pod; then day 2 — what Kubernetes does to the pods (a StatefulSet roll
// that upgrades every pod to the default image's release, then the features Job; node drains through the
// PodDisruptionBudgets; kill -9; a scale-out), with the probes of dist/ run as the kubelet runs them, while an
// idempotent acks=all producer and a consumer group (Kafka's own Java clients) run. Nothing acknowledged may be lost.

/** The metrics URL of a Kafka pod, from its StatefulSet's own port and the pod IP the harness gives it. */
function metricsUrl(cluster: KafkaTestCluster, pod: string): string {
  const port = cluster.statefulSetOf(pod).spec.template.spec.containers[0].ports.find((p: { name: string }) => p.name === 'metrics').containerPort;
  return `http://${cluster.podIP(pod)}:${port}/metrics`;
}

/** One scrape of each pod named. */
const scrapeAll = (cluster: KafkaTestCluster, pods: readonly string[]) => Promise.all(pods.map((pod) => scrape(metricsUrl(cluster, pod))));

const total = (samples: readonly Sample[], name: string) => samples.filter((s) => s.name === name).reduce((sum, s) => sum + s.value, 0);

const HARNESS_USER = { username: 'learnflow-harness', password: 'harness-password-1' };

describe.skipIf(!kafkaEnginesAvailable('Kafka production-profile suite'))('Kafka from a production-profile synth (3 brokers, 3 dedicated controllers)', () => {
  const work = tempDir('kafka-production');
  /** The install before the upgrade: the production profile on the older release's image. */
  let distOld: string;
  /** The production profile as synthesized by default: the upgrade's target. */
  let distDir: string;
  let cluster: KafkaTestCluster;
  let declared: DeclaredTopic[];
  let caCertificate: string;
  /** kafkajs's SCRAM over TLS as the harness's user. */
  const security = () => cluster.clientConfig();
  const scrapeMs: number[] = [];
  const timings: Record<string, number> = {};
  const everyPod = () => [...cluster.brokerPods, ...cluster.controllerPods];

  beforeAll(async () => {
    distOld = kafkaDistDir('production', { image: `apache/kafka:${UPGRADE_FROM_KAFKA_VERSION}` });
    distDir = kafkaDistDir('production');
    // kafka.security as production has it: the nodes' and the admin Jobs' certificates (a test CA issues what
    // dist/'s Certificates ask), SCRAM over TLS for the clients, the authorizer on every node.
    const issued = issueDistCertificates(work, readDistDir(distOld));
    caCertificate = issued.ca.certificate;
    // The brokers' and voters' JVMs run without C2 (the harness's KAFKA_TEST_JVM_ENV): it halves a pod restart on the 2 shared cores.
    cluster = await KafkaTestCluster.start({
      distDir: distOld,
      security: { secrets: issued.secrets, adminSecretName: issued.adminSecretName, user: HARNESS_USER },
    });
    // The test's own clients (kafkajs, the verifiable producer and consumer) log in as the harness's SCRAM user,
    // which acts as an operator would: every right on the topics, groups and cluster. The apps' least-privilege
    // ACLs are test/kafka-security.test.ts's.
    await cluster.allow(HARNESS_USER.username, ['All'], ['--topic', '*', '--group', '*', '--cluster']);
    timings['cluster start'] = cluster.startupMs;
    declared = parseTopicsConf(distTopicsConf(cluster));
  }, 600_000);

  afterAll(async () => {
    await cluster?.close();
    for (const dir of [distOld, distDir, work]) if (dir) fs.rmSync(dir, { recursive: true, force: true });
    const sorted = [...scrapeMs].sort((a, b) => a - b);
    console.log(`Kafka ${cluster?.kafkaVersion}, production profile, timings (ms): ${JSON.stringify(timings)}`);
    console.log(`Kafka agent scrapes: ${sorted.length}, median ${sorted[Math.floor(sorted.length / 2)]?.toFixed(0)} ms, max ${sorted.at(-1)?.toFixed(0)} ms`);
  }, 120_000);

  it('forms a quorum of the three dedicated voters, every broker registered and none of them a voter', async () => {
    expect(cluster.kafkaVersion).toBe(UPGRADE_FROM_KAFKA_VERSION);
    // The upgrade below is a change of release (a minor version), not a patch.
    const release = (version: string) => version.split('.').slice(0, 2).join('.');
    expect(release(loadKafkaManifests(distDir).kafkaVersion)).not.toBe(release(UPGRADE_FROM_KAFKA_VERSION));
    expect(cluster.brokerCount).toBe(3);
    expect(cluster.controllerPods).toEqual(['kafka-controller-0', 'kafka-controller-1', 'kafka-controller-2']);
    const quorum = await cluster.runTool('kafka-metadata-quorum.sh', ['--bootstrap-server', cluster.internalBootstrapServers, '--command-config', cluster.adminToolConfig(), 'describe', '--status']);
    expect(quorum.exitCode, quorum.output).toBe(0);
    const voters = JSON.parse(/^CurrentVoters:\s+(.*)$/m.exec(quorum.stdout)![1]) as { id: number }[];
    expect(voters.map((v) => v.id).sort()).toEqual([100, 101, 102]);
    expect([100, 101, 102]).toContain(Number(/^LeaderId:\s+(\d+)$/m.exec(quorum.stdout)![1]));
    const observers = JSON.parse(/^CurrentObservers:\s+(.*)$/m.exec(quorum.stdout)![1]) as { id: number }[];
    expect(observers.map((o) => o.id).sort()).toEqual([0, 1, 2]);

    const registered = await withAdmin(cluster.externalBootstrapServers, (admin) => admin.describeCluster(), security());
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
    const state = await describeTopics(cluster.externalBootstrapServers, declared.map((t) => t.name), security());
    for (const topic of declared) {
      expect(topic.replicationFactor, topic.name).toBe(3);
      expect(state.get(topic.name), topic.name).toEqual({ partitions: topic.partitions, replicationFactor: 3, topicConfigs: topic.configs });
    }
  }, 120_000);

  describe('the metrics agent inside every broker and controller', () => {
    it('every kafka_* and jvm_* metric an alert or dashboard uses is in a real scrape of the Kafka pods', async () => {
      // Per-topic MBeans exist once a topic has traffic.
      await produce(cluster.externalBootstrapServers, 'learning.query', ['a', 'b', 'c'], -1, security());
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
  });

  describe('day 2 under acks=all load', () => {
    let readiness: PodReadiness;
    let load: LoadRun;
    let report: LoadReport;
    const phases: { name: string; from: number; to: number; log: EventLog }[] = [];
    // What the suite measured: printed, and written where LEARNFLOW_DAY2_RESULTS says (`npm run bench -- --only day2`).
    const measured: {
      clusterStartMs?: number;
      probeCpuMsPerMinute?: number;
      sidecarCpuMsPerMinute?: number;
      phases: Record<string, { durationMs: number; produceP50Ms: number; produceP99Ms: number; consumed: number }>;
      acked?: number;
      /** The rebalance Job after the scale-out to 5 brokers: moving the 10 topics' share, and its no-op re-run. */
      rebalanceMs?: number;
      rebalanceNoOpMs?: number;
      /** The features Job after the upgrade roll (raising metadata.version), and its no-op re-run. */
      featuresMs?: number;
      featuresNoOpMs?: number;
      lost?: number;
      failedSends?: number;
    } = { phases: {} };

    const phase = async (name: string, run: (log: EventLog) => Promise<void>) => {
      const log: EventLog = [];
      const from = Date.now();
      await run(log);
      phases.push({ name, from, to: Date.now(), log });
    };

    beforeAll(async () => {
      measured.clusterStartMs = cluster.startupMs;
      // A declared topic with three replicas and min.insync.replicas 2, created by the topics Job above.
      const topic = declared.find((t) => t.name === 'learning.query')!;
      expect(topic.configs['min.insync.replicas']).toBe('2');
      readiness = new PodReadiness(cluster);
      await readiness.waitUntil(() => readiness.pods.every((p) => readiness.isReady(p)), 120_000, 'every pod Ready');
      load = LoadRun.start(cluster, topic.name, { ratePerSecond: 100, dir: path.join(work, 'load'), group: 'day2-readers' });
      await load.waitForAcked(200, 120_000);
    }, 300_000);

    afterAll(async () => {
      await readiness?.stop();
      for (const p of phases) console.log(`${p.name} (${((p.to - p.from) / 1000).toFixed(1)} s):\n  ${p.log.join('\n  ')}`);
      console.log(`Kafka day-2 measurements: ${JSON.stringify(measured, null, 1)}`);
    }, 120_000);

    it('reports Ready only what the probes of dist/ judge: caught up brokers, voters following a leader', async () => {
      for (const pod of readiness.pods) expect(readiness.lastOutput(pod), pod).toMatch(/^kafka: ready; readiness: /);
      // The probe's own cost: bash builtins over a file, 12 runs a minute at periodSeconds 5.
      const probe = cluster.manifests.statefulSet.spec.template.spec.containers[0].readinessProbe;
      expect(probe.periodSeconds).toBe(5);
      const sidecar = await cluster.cpuSecondsOf('kafka-0', 'readiness');
      const started = Date.now();
      await phase('steady', async () => {
        measured.probeCpuMsPerMinute = Math.round((await cluster.probeCpuSeconds('kafka-0', 12)) * 1000);
        await sleep(Math.max(0, 20_000 - (Date.now() - started)));
      });
      const sidecarPerMinute = ((await cluster.cpuSecondsOf('kafka-0', 'readiness')) - sidecar) * (60_000 / (Date.now() - started));
      measured.sidecarCpuMsPerMinute = Math.round(sidecarPerMinute * 1000);
      // Small: a JVM start per probe costs ~1 CPU second each.
      expect(sidecarPerMinute).toBeLessThan(3);
    }, 120_000);

    describe(`upgrade from ${UPGRADE_FROM_KAFKA_VERSION} to the default image by a roll, then the features Job`, () => {
      /** The finalized metadata.version as `kafka-features.sh describe` prints it (4.2-IV1). */
      const finalizedMetadataVersion = async () => {
        const described = await cluster.runTool('kafka-features.sh', ['--bootstrap-server', cluster.internalBootstrapServers, '--command-config', cluster.adminToolConfig(), 'describe']);
        expect(described.exitCode, described.output).toBe(0);
        return /Feature: metadata\.version\s.*FinalizedVersionLevel: (\S+)/.exec(described.stdout)![1];
      };
      /** The day-2 group's committed offsets and the topic's end offsets, partition by partition. */
      const offsets = (topic: string) =>
        withAdmin(cluster.externalBootstrapServers, async (admin) => ({
          committed: (await admin.fetchOffsets({ groupId: 'day2-readers', topics: [topic] }))[0].partitions
            .sort((a, b) => a.partition - b.partition)
            .map((p) => Number(p.offset)),
          ends: (await admin.fetchTopicOffsets(topic)).sort((a, b) => a.partition - b.partition).map((p) => ({ low: Number(p.low), high: Number(p.high) })),
        }), security());
      let before: { metadataVersion: string; offsets: Awaited<ReturnType<typeof offsets>> };
      let earlyRun: ProcessResult | undefined;
      let oldBrokerAtEarlyRun: boolean | undefined;

      it('rolls brokers and voters onto the new image at once (one kubectl apply changes both StatefulSets), as the StatefulSet controller rolls under Parallel; the features Job run before the last broker rolled refuses', async () => {
        before = { metadataVersion: await finalizedMetadataVersion(), offsets: await offsets('learning.query') };
        expect(before.offsets.committed.every((offset) => offset > 0), JSON.stringify(before.offsets)).toBe(true);
        cluster.applyStatefulSets(distDir);
        expect(cluster.kafkaVersion).not.toBe(UPGRADE_FROM_KAFKA_VERSION);
        await phase('upgrade roll of brokers and controllers', async (log) => {
          const brokers: EventLog = [];
          const controllers: EventLog = [];
          // Before kafka-0, the last broker on the old release, is deleted: the features Job of the new dist/, with
          // no wait, as a Job applied while the roll is under way would run.
          const beforeDelete = async (pod: string) => {
            if (pod !== 'kafka-0') return;
            oldBrokerAtEarlyRun = !cluster.isUpdated('kafka-0') && cluster.isUpdated('kafka-1') && cluster.isUpdated('kafka-2');
            earlyRun = await cluster.runFeaturesJob({ env: { WAIT_TIMEOUT_SECONDS: '0' } });
            const reason = /the controller says: .*/.exec(earlyRun.output)?.[0] ?? earlyRun.output.trim().split('\n').at(-1);
            brokers.push(`features Job before kafka-0 rolled: exit ${earlyRun.exitCode} in ${earlyRun.durationMs} ms; ${reason}`);
          };
          await Promise.all([
            rollingUpdate(cluster, readiness, 'kafka', brokers, { beforeDelete }),
            rollingUpdate(cluster, readiness, 'kafka-controller', controllers),
          ]);
          log.push(...brokers.map((line) => `brokers ${line}`), ...controllers.map((line) => `controllers ${line}`));
          const deleted = (lines: EventLog) => lines.filter((line) => / delete /.test(line)).map((line) => line.split(' delete ')[1].split(' ')[0]);
          expect(deleted(brokers)).toEqual(['kafka-2', 'kafka-1', 'kafka-0']);
          expect(deleted(controllers)).toEqual(['kafka-controller-2', 'kafka-controller-1', 'kafka-controller-0']);
          // The controller's rule: the next pod goes only once the one above it has been Ready for minReadySeconds.
          for (const lines of [brokers, controllers]) {
            const at = (pattern: RegExp) => lines.filter((line) => pattern.test(line)).map((line) => Number(/^\[([\d.]+)s\]/.exec(line)![1]));
            const created = at(/ re-created$/);
            const deletions = at(/ delete /);
            for (let i = 1; i < deletions.length; i++) expect(deletions[i] - created[i - 1]).toBeGreaterThanOrEqual(10);
          }
        });
        // Every pod now runs the new release's jars: each server logged its version at start (AppInfoParser).
        for (const pod of everyPod()) {
          expect(cluster.isUpdated(pod), pod).toBe(true);
          // The pod's console log spans its incarnations: the old release's server, then the new one's.
          const versions = [...new Set([...cluster.podLog(pod).matchAll(/Kafka version: (\S+)/g)].map((m) => m[1]))];
          expect(versions, pod).toEqual([UPGRADE_FROM_KAFKA_VERSION, cluster.kafkaVersion]);
        }
        const quorum = await cluster.runTool('kafka-metadata-quorum.sh', ['--bootstrap-server', cluster.internalBootstrapServers, '--command-config', cluster.adminToolConfig(), 'describe', '--status']);
        expect(quorum.exitCode, quorum.output).toBe(0);
        expect([100, 101, 102]).toContain(Number(/^LeaderId:\s+(\d+)$/m.exec(quorum.stdout)![1]));
        // The Job that ran early refused, changed nothing, and said why and what to do.
        expect(oldBrokerAtEarlyRun).toBe(true);
        expect(earlyRun!.exitCode, earlyRun!.output).not.toBe(0);
        expect(earlyRun!.output).toContain(`refusing: not every broker and controller runs release`);
        expect(earlyRun!.output).toMatch(/the controller says: .*(does not support|only supports|not registered)/);
        expect(earlyRun!.output).toMatch(/finish rolling every Kafka pod onto the [\d.]+ image/);
        expect(await finalizedMetadataVersion()).toBe(before.metadataVersion);
      }, 900_000);

      it('the features Job raises metadata.version to the new release, once; the data and the consumer group offsets are intact', async () => {
        const first = await cluster.runFeaturesJob();
        measured.featuresMs = first.durationMs;
        expect(first.exitCode, first.output).toBe(0);
        expect(first.output).toMatch(/summary: raised=[1-9]/);
        // The new release's own mapping of its latest production metadata.version (version-mapping without a release).
        const mapping = await cluster.runTool('kafka-features.sh', ['--bootstrap-server', cluster.internalBootstrapServers, '--command-config', cluster.adminToolConfig(), 'version-mapping']);
        const target = /^metadata\.version=\d+ \((\S+)\)$/m.exec(mapping.stdout)![1];
        const after = await finalizedMetadataVersion();
        expect(after).toBe(target);
        expect(after).not.toBe(before.metadataVersion);
        // kraft.version stays: the voters are static.
        const described = await cluster.runTool('kafka-features.sh', ['--bootstrap-server', cluster.internalBootstrapServers, '--command-config', cluster.adminToolConfig(), 'describe']);
        expect(described.stdout).toMatch(/Feature: kraft\.version\s.*FinalizedVersionLevel: 0\s/);

        const second = await cluster.runFeaturesJob();
        measured.featuresNoOpMs = second.durationMs;
        expect(second.exitCode, second.output).toBe(0);
        expect(second.output).toContain('nothing to do');
        expect(second.output).toMatch(/summary: raised=0 /);

        // Nothing was deleted from the topic and the group's committed offsets only moved forward.
        const now = await offsets('learning.query');
        for (const [partition, end] of now.ends.entries()) {
          expect(end.low, `partition ${partition}`).toBe(before.offsets.ends[partition].low);
          expect(end.high, `partition ${partition}`).toBeGreaterThan(before.offsets.ends[partition].high);
          expect(now.committed[partition], `partition ${partition}`).toBeGreaterThanOrEqual(before.offsets.committed[partition]);
        }
      }, 300_000);
    });

    it("drains two nodes one after the other: the second waits for its budget until the first node's pods are caught up", async () => {
      await phase('drain two nodes', async (log) => {
        await drainNode(cluster, readiness, ['kafka-1', 'kafka-controller-1'], log);
        await drainNode(cluster, readiness, ['kafka-2', 'kafka-controller-2'], log);
        await readiness.waitUntil(() => readiness.pods.every((p) => readiness.isReady(p)), 300_000, 'every pod Ready after the drains');
      });
      const log = phases.at(-1)!.log;
      expect(log.some((line) => /evict kafka-2: refused by its PodDisruptionBudget/.test(line)), log.join('\n')).toBe(true);
    }, 600_000);

    it('survives kill -9 of a broker; meanwhile the scraped under-replicated-partitions metric rises above 0, as KafkaUnderReplicatedPartitions expects', async () => {
      await phase('kill -9 kafka-0', async (log) => {
        log.push('SIGKILL kafka-0');
        readiness.forget('kafka-0');
        await cluster.deletePod('kafka-0', 0);
        readiness.forget('kafka-0');
        // The controller fences the dead broker after broker.session.timeout.ms; the leaders then shrink their ISRs.
        let underReplicated = 0;
        for (let attempt = 0; attempt < 60 && underReplicated === 0; attempt++) {
          const scrapes = await scrapeAll(cluster, ['kafka-1', 'kafka-2']);
          underReplicated = total(scrapes.flatMap((s) => s.samples), 'kafka_partition_under_replicated');
          if (underReplicated === 0) await sleep(1_000);
        }
        log.push(`under-replicated partitions scraped: ${underReplicated}`);
        // Every LearnFlow topic has 3 replicas, one of them on the dead broker; none goes offline.
        expect(underReplicated).toBeGreaterThan(0);
        const all = (await scrapeAll(cluster, ['kafka-1', 'kafka-2', ...cluster.controllerPods])).flatMap((s) => s.samples);
        expect(total(all, 'kafka_partition_offline')).toBe(0);
        expect(total(all, 'kafka_controller_active_count')).toBe(1);
        cluster.createPod('kafka-0');
        await readiness.waitUntil(() => readiness.pods.every((p) => readiness.isReady(p)), 300_000, 'every pod Ready after the kill');
        log.push('every pod Ready');
      });
    }, 600_000);

    describe('scale out from 3 to 5 brokers, then the rebalance Job of that dist/, under the same load', () => {
      let distFive: string;
      let firstRun: ProcessResult;

      afterAll(() => {
        if (distFive) fs.rmSync(distFive, { recursive: true, force: true });
      });

      it('adds kafka-3 and kafka-4 from the 5-broker StatefulSet without touching the running pods; the Job moves a fair share onto them', async () => {
        distFive = kafkaDistDir('production', { brokers: 5 });
        const jobName = (dir: string) => readDistDir(dir).find((o) => o.kind === 'Job' && o.metadata.name.startsWith('kafka-rebalance-'))!.metadata.name;
        // A deploy after the scale-out runs the Job again: its name carries the broker count.
        expect(jobName(distFive)).not.toBe(jobName(distDir));
        const running = ['kafka-0', 'kafka-1', 'kafka-2'];
        const pids = running.map((pod) => cluster.pid(pod));
        expect(pids.every((pid) => pid !== undefined)).toBe(true);
        await phase('scale out 3 -> 5 and rebalance', async (log) => {
          // scaleBrokers refuses a dist/ whose pod template differs (that would roll every broker).
          const added = await cluster.scaleBrokers(distFive);
          log.push(`created ${added.join(', ')}`);
          expect(added).toEqual(['kafka-3', 'kafka-4']);
          // The Job waits for every broker of the StatefulSet to register; scaleBrokers already did.
          firstRun = await cluster.runRebalanceJob();
          measured.rebalanceMs = firstRun.durationMs;
          log.push(`rebalance Job: exit ${firstRun.exitCode} in ${firstRun.durationMs} ms`);
          await readiness.waitUntil(() => readiness.pods.every((p) => readiness.isReady(p)), 180_000, 'every pod Ready after the rebalance');
        });
        expect(firstRun.exitCode, firstRun.output).toBe(0);
        // The three pods that ran before still run, the same processes: a scale-out adds pods, it rolls none.
        expect(running.map((pod) => cluster.pid(pod))).toEqual(pids);
        const moved = Number(/summary: partitions=\d+ replicas-moved=(\d+)/.exec(firstRun.output)?.[1]);
        expect(moved, firstRun.output).toBeGreaterThan(0);

        const readMetadata = () => withAdmin(cluster.externalBootstrapServers, (admin) => admin.fetchTopicMetadata({ topics: declared.map((t) => t.name) }), security());
        const notPreferred = (topics: Awaited<ReturnType<typeof readMetadata>>['topics']) =>
          topics.flatMap((t) => t.partitions.filter((p) => p.leader !== p.replicas[0]).map((p) => `${t.name}-${p.partitionId}`));
        let metadata = await readMetadata();
        // The election's result reaches every broker's metadata within a few seconds.
        for (let attempt = 0; attempt < 20 && notPreferred(metadata.topics).length > 0; attempt++) {
          await sleep(1_000);
          metadata = await readMetadata();
        }
        const spread = (counts: Map<number, number>) => Math.max(...counts.values()) - Math.min(...counts.values());
        const countOn = (lists: number[][]) => {
          const counts = new Map([0, 1, 2, 3, 4].map((b) => [b, 0]));
          for (const list of lists) for (const b of list) counts.set(b, counts.get(b)! + 1);
          return counts;
        };
        const replicas = metadata.topics.flatMap((t) => t.partitions.map((p) => p.replicas));
        // Fair: every broker within one replica of every other, over all declared topics and within each.
        expect(spread(countOn(replicas)), JSON.stringify([...countOn(replicas)])).toBeLessThanOrEqual(1);
        // Minimal movement: the new brokers started with no replica, so every move is one they now hold, and
        // no replica moved between the old brokers.
        expect(moved).toBe(countOn(replicas).get(3)! + countOn(replicas).get(4)!);
        for (const topic of metadata.topics) expect(spread(countOn(topic.partitions.map((p) => p.replicas))), topic.name).toBeLessThanOrEqual(1);
        // Leaders too: the preferred replicas are spread, and the election made them the leaders.
        const preferred = metadata.topics.flatMap((t) => t.partitions.map((p) => [p.replicas[0]]));
        expect(spread(countOn(preferred))).toBeLessThanOrEqual(1);
        expect(notPreferred(metadata.topics), firstRun.output).toEqual([]);
      }, 420_000);

      it('left no replication throttle on any broker or topic (--verify removed it), and a second run moves nothing', async () => {
        expect(firstRun.output).toContain('Clearing broker-level throttles');
        // The brokers' dynamic configs (the throttle rates are dynamic only: DescribeConfigs lists them when set).
        const brokers = await cluster.runTool('kafka-configs.sh', ['--bootstrap-server', cluster.internalBootstrapServers, '--command-config', cluster.adminToolConfig(), '--describe', '--entity-type', 'brokers']);
        expect(brokers.exitCode, brokers.output).toBe(0);
        expect(brokers.stdout).toMatch(/Dynamic configs for broker 4/);
        expect(brokers.stdout).not.toMatch(/throttled/);
        // The declared topics' configs, asked with kafkajs: no throttled-replica list set on any.
        const resources = declared.map((topic) => ({ type: ConfigResourceTypes.TOPIC, name: topic.name }));
        const described = await withAdmin(cluster.externalBootstrapServers, (admin) => admin.describeConfigs({ resources, includeSynonyms: false }), security());
        expect(described.resources).toHaveLength(resources.length);
        // The names looked for are there (at their defaults), so an absent one would not pass by a typo.
        const names = new Set(described.resources.flatMap((resource) => resource.configEntries.map((entry) => entry.configName)));
        for (const name of ['leader.replication.throttled.replicas', 'follower.replication.throttled.replicas']) {
          expect(names.has(name), name).toBe(true);
        }
        const set = described.resources.flatMap((resource) =>
          resource.configEntries
            .filter((entry) => /replication\.throttled/.test(entry.configName) && entry.configSource === ConfigSource.TOPIC_CONFIG)
            .map((entry) => `${resource.resourceName} ${entry.configName}=${entry.configValue}`),
        );
        expect(set).toEqual([]);
        const second = await cluster.runRebalanceJob();
        expect(second.exitCode, second.output).toBe(0);
        expect(second.output).toContain('nothing to move');
        expect(second.output).toContain('summary: partitions=0 replicas-moved=0');
        measured.rebalanceNoOpMs = second.durationMs;
      }, 120_000);

      it('kafka-live-removed-brokers-empty refuses the 3-broker dist/ while brokers 3 and 4 hold replicas, naming them and the drain; the 5-broker dist/ passes', async () => {
        const judge = async (dir: string) => {
          // verify --live as it connects to a secured cluster, here as the harness's user.
          const credentials = { ...HARNESS_USER, ca: caCertificate, passwordFrom: 'the test', caFrom: 'the test CA' };
          const kafka = new KafkaTarget(cluster.externalBootstrapServers, 15_000, { kind: 'scram', credentials, tls: true });
          try {
            return await kafkaLiveRemovedBrokersEmpty.run({ dist: loadDist(dir), reference: new ReferenceData(referenceDir()), kafka });
          } finally {
            await kafka.close();
          }
        };
        const shrinking = await judge(distDir);
        expect(shrinking.map((result) => result.status)).toEqual(['fail', 'fail']);
        expect(shrinking[0].message).toMatch(/^broker 3 still holds \d+ replicas \(.*learning\.query-\d.*\), but dist\/ runs 3 brokers/);
        expect(shrinking[1].message).toMatch(/^broker 4 still holds/);
        expect(shrinking[0].remediation).toMatch(/kubectl apply -f \S*12-kafka-rebalance\.yaml && kubectl -n kafka wait --for=condition=complete job\/kafka-rebalance-[0-9a-f]+/);
        expect(shrinking[0].remediation).toContain('--broker-list 0,1,2 --generate');
        expect((await judge(distFive)).map((result) => result.status)).toEqual(['pass']);
      }, 60_000);
    });

    it('lost nothing acknowledged, failed no send, and the consumer group kept reading in every phase', async () => {
      await sleep(5_000);
      report = await load.stop();
      expect(report.failedSends).toEqual([]);
      expect(report.lost.map((a) => `${a.value}@${a.partition}/${a.offset}`)).toEqual([]);
      expect(report.mismatched).toEqual([]);
      expect(report.acked.length).toBeGreaterThan(1_000);
      for (const p of phases) {
        const consumed = report.consumedBetween(p.from, p.to);
        expect(consumed, p.name).toBeGreaterThan(0);
        const latencies = report.latencyMs(p.from, p.to);
        measured.phases[p.name] = { durationMs: p.to - p.from, produceP50Ms: quantile(latencies, 0.5), produceP99Ms: quantile(latencies, 0.99), consumed };
      }
      Object.assign(measured, { acked: report.acked.length, lost: report.lost.length, failedSends: report.failedSends.length });
      if (process.env.LEARNFLOW_DAY2_RESULTS) fs.writeFileSync(process.env.LEARNFLOW_DAY2_RESULTS, JSON.stringify(measured, null, 1));
    }, 300_000);
  });
});
