import * as fs from 'node:fs';
import * as path from 'node:path';
import { Kafka, logLevel, Partitioners } from 'kafkajs';
import { issueDistCertificates } from '../test/harness/kafka/certificates';
import { kafkaDistDir } from '../test/harness/kafka/client';
import { type HarnessSecurity, KafkaTestCluster, PRODUCTION_JVM } from '../test/harness/kafka/cluster';
import { readDistDir, tempDir } from '../test/support/synth';
import { type Measurement, median, recorded } from './measure';

const MESSAGE_BYTES = 1024;
const BATCH = 10;
/** Sends in flight at once on the one producer connection, as a service's sidecar pipelines them. */
const CONCURRENCY = 8;
const WARM_UP_MS = 5_000;
const LOAD_MS = 20_000;
/** Plaintext, secured, plaintext, secured: each kind runs early and late, so a machine getting busier is shared between them. */
const ROUNDS = 2;
const TOPIC = 'bench.security';

interface Run {
  readonly messagesPerSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly sends: number;
}

const percentile = (sorted: readonly number[], p: number) => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];

interface Install {
  readonly distDir: string;
  readonly security?: HarnessSecurity;
}

/** The minikube profile with kafka.security or without; the secured one with its certificates issued by a test CA. */
function install(work: string, secured: boolean): Install {
  const distDir = kafkaDistDir('minikube', { kafka: { security: { enabled: secured } } });
  if (!secured) return { distDir };
  const issued = issueDistCertificates(path.join(work, 'certificates'), readDistDir(distDir));
  return { distDir, security: { secrets: issued.secrets, adminSecretName: issued.adminSecretName, user: { username: 'learnflow-bench', password: 'bench-password-1' } } };
}

/**
 * One broker of `install` under the produce load, through its port-forward listener (EXTERNAL: SASL_SSL with
 * SCRAM-SHA-512 verified against the CA, or PLAINTEXT): batches of 10 messages of 1 KiB, acks=all, 8 sends in
 * flight on one connection, for 20 s after 5 s of warm-up.
 */
async function produceRun({ distDir, security }: Install): Promise<Run> {
  // Everything is prepared before: the harness's port lock is taken again at once after the previous run frees it.
  const cluster = await KafkaTestCluster.start({ distDir, security, lockTimeoutMs: 1_800_000, containerEnv: { kafka: PRODUCTION_JVM } });
  try {
    // The brokers authorize every request (StandardAuthorizer): the bench's client may create and write its topic.
    if (security) await cluster.allow(security.user.username, ['Create', 'Write', 'Describe'], ['--topic', TOPIC]);
    const kafka = new Kafka({
      clientId: 'learnflow-bench',
      brokers: cluster.externalBootstrapServers,
      logLevel: logLevel.NOTHING,
      ...cluster.clientConfig(),
    });
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: TOPIC, numPartitions: 3, replicationFactor: 1 }], waitForLeaders: true });
    await admin.disconnect();
    const producer = kafka.producer({ allowAutoTopicCreation: false, createPartitioner: Partitioners.DefaultPartitioner });
    await producer.connect();
    const value = Buffer.alloc(MESSAGE_BYTES, 'x');
    const messages = Array.from({ length: BATCH }, (_, i) => ({ key: `key-${i}`, value }));
    const load = async (until: number, latencies: number[]) => {
      await Promise.all(
        Array.from({ length: CONCURRENCY }, async () => {
          while (Date.now() < until) {
            const started = performance.now();
            await producer.send({ topic: TOPIC, acks: -1, messages });
            latencies.push(performance.now() - started);
          }
        }),
      );
    };
    await load(Date.now() + WARM_UP_MS, []);
    const latencies: number[] = [];
    const started = performance.now();
    await load(Date.now() + LOAD_MS, latencies);
    const elapsedS = (performance.now() - started) / 1000;
    await producer.disconnect();
    const sorted = latencies.sort((a, b) => a - b);
    return { messagesPerSecond: (latencies.length * BATCH) / elapsedS, p50Ms: percentile(sorted, 50), p99Ms: percentile(sorted, 99), sends: latencies.length };
  } finally {
    await cluster.close();
  }
}

/**
 * SCRAM-SHA-512 over TLS against PLAINTEXT on real brokers (PRODUCT.md: throughput and p99 side by side, cost
 * recorded): the median of each kind's rounds, and the cost in throughput (%) and in p99 (ms).
 */
export async function benchKafkaSecurity(): Promise<Measurement[]> {
  const work = tempDir('bench-kafka-security');
  const installs = { plaintext: install(work, false), secured: install(work, true) };
  const plaintext: Run[] = [];
  const secured: Run[] = [];
  try {
    for (let round = 0; round < ROUNDS; round++) {
      plaintext.push(await produceRun(installs.plaintext));
      secured.push(await produceRun(installs.secured));
    }
  } finally {
    for (const { distDir } of Object.values(installs)) fs.rmSync(distDir, { recursive: true, force: true });
    fs.rmSync(work, { recursive: true, force: true });
  }
  const of = (runs: Run[], figure: keyof Run) => median(runs.map((run) => run[figure]));
  for (const [kind, runs] of [
    ['PLAINTEXT', plaintext],
    ['SASL_SSL', secured],
  ] as const) {
    process.stderr.write(
      `kafka-security: ${kind}: ${runs.map((run) => `${run.messagesPerSecond.toFixed(0)} msg/s, p50 ${run.p50Ms.toFixed(1)} ms, p99 ${run.p99Ms.toFixed(1)} ms (${run.sends} sends)`).join('; ')}\n`,
    );
  }
  const throughputCost = (1 - of(secured, 'messagesPerSecond') / of(plaintext, 'messagesPerSecond')) * 100;
  return [
    recorded('kafka security: produce throughput, PLAINTEXT (1 KiB, acks=all)', of(plaintext, 'messagesPerSecond'), 'msg/s'),
    recorded('kafka security: produce throughput, SCRAM-SHA-512 over TLS', of(secured, 'messagesPerSecond'), 'msg/s'),
    recorded('kafka security: produce throughput lost to SCRAM + TLS', throughputCost, '%'),
    recorded('kafka security: produce latency p99 (10-message batch), PLAINTEXT', of(plaintext, 'p99Ms')),
    recorded('kafka security: produce latency p99 (10-message batch), SCRAM-SHA-512 over TLS', of(secured, 'p99Ms')),
    recorded('kafka security: produce latency p99 added by SCRAM + TLS', of(secured, 'p99Ms') - of(plaintext, 'p99Ms')),
  ];
}
