import * as fs from 'node:fs';
import * as path from 'node:path';
import { killGroup, sleep } from '../processes';
import type { KafkaTestCluster } from './cluster';

// Traffic during day-2 operations with Kafka's own Java clients (the producer and consumer of Kafka's system
// tests): kafkajs's idempotent producer can acknowledge a send at an offset that holds another message after
// a leader move (PRODUCT.md, known traps), so loss is never measured with it.

interface Acked {
  readonly value: string;
  readonly partition: number;
  readonly offset: number;
  /** When the producer's callback saw the acknowledgement (ms since the epoch). */
  readonly ackedAt: number;
}

export interface LoadReport {
  readonly acked: readonly Acked[];
  readonly failedSends: readonly string[];
  /** Acknowledged messages the consumer group never read at their acknowledged partition and offset. */
  readonly lost: readonly Acked[];
  /** Acknowledged at an offset where the consumer read another value. */
  readonly mismatched: readonly Acked[];
  /** Records the consumer group read between two times (ms since the epoch), counting re-reads. */
  consumedBetween(from: number, to: number): number;
  /** Produce latency of each acknowledged message: its acknowledgement after its place in the schedule. */
  latencyMs(from: number, to: number): number[];
}

/**
 * An idempotent acks=all producer at a fixed rate and a consumer group reading the same topic, running
 * until `stop`. A message's value is its sequence number, so its intended send time is start + n / rate:
 * its latency counts the time the producer blocked too (no coordinated omission).
 */
export class LoadRun {
  static start(cluster: KafkaTestCluster, topic: string, options: { ratePerSecond: number; dir: string; group: string }): LoadRun {
    fs.mkdirSync(options.dir, { recursive: true });
    const producerConfig = path.join(options.dir, 'producer.properties');
    // The tool sets retries=0, which idempotence refuses: Kafka's own default again (unbounded within
    // delivery.timeout.ms, 2 min), and its 5 requests in flight.
    // As a service connects: the client listener, with kafka.security SCRAM over TLS (the harness's user).
    const client = cluster.clientToolProperties();
    fs.writeFileSync(producerConfig, `${['enable.idempotence=true', 'acks=all', 'retries=2147483647', 'linger.ms=5', ...client].join('\n')}\n`, { mode: 0o600 });
    const consumerConfig = path.join(options.dir, 'consumer.properties');
    fs.writeFileSync(consumerConfig, `${['auto.offset.reset=earliest', ...client].join('\n')}\n`, { mode: 0o600 });
    const bootstrap = cluster.clientBootstrapServers;
    const run = new LoadRun(options.ratePerSecond, path.join(options.dir, 'producer.jsonl'), path.join(options.dir, 'consumer.jsonl'));
    run.consumer = cluster.spawnTool(
      'kafka-verifiable-consumer.sh',
      ['--bootstrap-server', bootstrap, '--topic', topic, '--group-id', options.group, '--verbose', '--consumer.config', consumerConfig],
      run.consumerLog,
    );
    run.producer = cluster.spawnTool(
      'kafka-verifiable-producer.sh',
      ['--bootstrap-server', bootstrap, '--topic', topic, '--throughput', String(options.ratePerSecond), '--command-config', producerConfig],
      run.producerLog,
    );
    return run;
  }

  private producer?: ReturnType<KafkaTestCluster['spawnTool']>;
  private consumer?: ReturnType<KafkaTestCluster['spawnTool']>;

  private constructor(
    private readonly ratePerSecond: number,
    private readonly producerLog: string,
    private readonly consumerLog: string,
  ) {}

  /** Records the consumer group has read so far. */
  consumedCount(): number {
    return events(this.consumerLog).filter((e) => e.name === 'record_data').length;
  }

  /** Acknowledged sends so far. */
  ackedCount(): number {
    return events(this.producerLog).filter((e) => e.name === 'producer_send_success').length;
  }

  /** Wait until the producer has had `count` messages acknowledged (it runs, the cluster takes writes). */
  async waitForAcked(count: number, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.ackedCount() < count) {
      if (Date.now() > deadline) throw new Error(`only ${this.ackedCount()} of ${count} sends acknowledged within ${timeoutMs} ms:\n${fs.readFileSync(this.producerLog, 'utf8').slice(-2000)}`);
      await sleep(500);
    }
  }

  /**
   * Stop the producer (SIGTERM: it flushes and reports what it sent), let the consumer read everything that
   * was acknowledged, stop it, and compare.
   */
  async stop(timeoutMs = 120_000): Promise<LoadReport> {
    killGroup(this.producer?.process, 'SIGTERM');
    await this.producer?.exited;
    const produced = events(this.producerLog);
    const acked: Acked[] = produced
      .filter((e) => e.name === 'producer_send_success')
      .map((e) => ({ value: String(e.value), partition: Number(e.partition), offset: Number(e.offset), ackedAt: Number(e.timestamp) }));
    const failedSends = produced.filter((e) => e.name === 'producer_send_error').map((e) => `${e.value}: ${e.exception} ${e.message}`);
    const key = (partition: number, offset: number) => `${partition}/${offset}`;
    const deadline = Date.now() + timeoutMs;
    let read = new Map<string, string>();
    for (;;) {
      read = new Map(events(this.consumerLog).filter((e) => e.name === 'record_data').map((e) => [key(Number(e.partition), Number(e.offset)), String(e.value)]));
      if (acked.every((a) => read.has(key(a.partition, a.offset))) || Date.now() > deadline) break;
      await sleep(1_000);
    }
    killGroup(this.consumer?.process, 'SIGTERM');
    await this.consumer?.exited;
    const batches = events(this.consumerLog).filter((e) => e.name === 'records_consumed');
    // A loop, not Math.min(...list): a long run acknowledges more values than a call may take arguments
    // (a 30-minute suite at 100/s overflowed the stack).
    const minimum = (values: Iterable<number>) => {
      let least = Number.POSITIVE_INFINITY;
      for (const value of values) least = Math.min(least, value);
      return least;
    };
    const first = minimum(acked.map((a) => Number(a.value)));
    const start = acked.length > 0 ? minimum(acked.map((a) => a.ackedAt - (Number(a.value) - first) * (1000 / this.ratePerSecond))) : 0;
    const schedule = (value: string) => start + (Number(value) - first) * (1000 / this.ratePerSecond);
    return {
      acked,
      failedSends,
      lost: acked.filter((a) => !read.has(key(a.partition, a.offset))),
      mismatched: acked.filter((a) => read.has(key(a.partition, a.offset)) && read.get(key(a.partition, a.offset)) !== a.value),
      consumedBetween: (from, to) => batches.filter((e) => Number(e.timestamp) >= from && Number(e.timestamp) < to).reduce((sum, e) => sum + Number(e.count), 0),
      latencyMs: (from, to) => acked.filter((a) => a.ackedAt >= from && a.ackedAt < to).map((a) => Math.max(0, a.ackedAt - schedule(a.value))),
    };
  }
}

function events(file: string): Record<string, unknown>[] {
  if (!fs.existsSync(file)) return [];
  return fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

/** The q-quantile (0..1) of a list of numbers, by nearest rank. */
export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}
