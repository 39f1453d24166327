import { randomBytes } from 'node:crypto';
import * as os from 'node:os';
import { type Admin, ConfigResourceTypes, Kafka, KafkaJSProtocolError, logLevel, Partitioners, type PartitionMetadata } from 'kafkajs';
import { ClusterUnavailableError, withTimeout } from '../cluster/cluster-reader';
import { type KafkaAuth, PLAINTEXT } from './kafka-auth';

export interface KafkaBroker {
  readonly nodeId: number;
  readonly host: string;
  readonly port: number;
}

/** What the brokers said, read once per run and shared by every Kafka data-plane check. */
export interface KafkaSnapshot {
  readonly brokers: readonly KafkaBroker[];
  /** The controller id the brokers report (KRaft: an active broker that forwards to the quorum), null if none. */
  readonly controller: number | null;
  /** Every topic of the cluster with its partitions. */
  readonly topics: ReadonlyMap<string, readonly PartitionMetadata[]>;
  /** Effective values of the asked configs of the asked topics that exist: topic -> config -> value. */
  readonly configs: ReadonlyMap<string, Readonly<Record<string, string>>>;
}

export interface RoundTrip {
  readonly partition: number;
  readonly offset: string;
  /** The message read back at that offset matched the one written (key and value). */
  readonly matched: boolean;
  readonly elapsedMs: number;
}

/** What the round trip's fetch needs of kafkajs's internal Cluster and Broker (kafkajs 2.2, in maintenance mode). */
interface InternalCluster {
  connect(): Promise<void>;
  disconnect(): Promise<void>;
  addTargetTopic(topic: string): Promise<void>;
  findLeaderForPartitions(topic: string, partitions: number[]): Record<string, number[]>;
  findBroker(options: { nodeId: string }): Promise<{
    fetch(request: Record<string, unknown>): Promise<{
      responses: { partitions: { errorCode: number; messages: { offset: string; key: Buffer | null; value: Buffer | null }[] }[] }[];
    }>;
  }>;
}

/**
 * The Kafka brokers of --kafka-brokers or a port-forward. One admin connection answers every metadata
 * question: describeCluster and the metadata of all topics in parallel, then describeConfigs of every
 * declared topic in one request. Each failure to get an answer is a ClusterUnavailableError ("could not check").
 */
export class KafkaTarget {
  readonly description: string;
  private readonly kafka: Kafka;
  private admin?: Admin;
  private snapshotPromise?: Promise<KafkaSnapshot>;

  constructor(
    readonly brokers: readonly string[],
    private readonly timeoutMs: number,
    private readonly auth: KafkaAuth = PLAINTEXT,
  ) {
    const as = auth.kind === 'scram' ? ` as ${auth.credentials.username} (SCRAM-SHA-512${auth.tls ? ' over TLS' : ', no TLS'})` : '';
    this.description = `Kafka ${brokers.join(',')}${as}`;
    const credentials = auth.kind === 'scram' ? auth.credentials : undefined;
    this.kafka = new Kafka({
      clientId: 'learnflow-verify',
      brokers: [...brokers],
      logLevel: logLevel.NOTHING,
      // The brokers' certificate is verified (Node's default): against the CA given, else the system's.
      ...(credentials && auth.kind === 'scram' && auth.tls ? { ssl: credentials.ca === undefined ? true : { ca: [credentials.ca] } } : {}),
      ...(credentials ? { sasl: { mechanism: 'scram-sha-512', username: credentials.username, password: credentials.password } } : {}),
      connectionTimeout: Math.min(timeoutMs, 3_000),
      authenticationTimeout: timeoutMs,
      requestTimeout: timeoutMs,
      // A refused connection is final: the outer deadline, not kafkajs's minutes of back-off, bounds the wait.
      retry: { retries: 2, initialRetryTime: 100, maxRetryTime: 1_000 },
    });
  }

  /** Reads the cluster once; later calls share the answer (or the failure). */
  snapshot(topics: readonly string[], configNames: readonly string[]): Promise<KafkaSnapshot> {
    if (this.auth.kind === 'missing') this.snapshotPromise ??= Promise.reject(new ClusterUnavailableError(`${this.description}: ${this.auth.reason}`));
    this.snapshotPromise ??= withTimeout(this.readSnapshot(topics, configNames), this.timeoutMs, this.description).catch((error) => {
      throw unavailable(this.description, error, this.auth);
    });
    return this.snapshotPromise;
  }

  private async readSnapshot(topics: readonly string[], configNames: readonly string[]): Promise<KafkaSnapshot> {
    this.admin = this.kafka.admin();
    await this.admin.connect();
    // No topic list: one Metadata request for all topics, so a missing topic is an answer, not an error.
    const [cluster, metadata] = await Promise.all([this.admin.describeCluster(), this.admin.fetchTopicMetadata()]);
    const present = new Map(metadata.topics.map((topic) => [topic.name, topic.partitions]));
    const existing = topics.filter((name) => present.has(name));
    const configs = new Map<string, Record<string, string>>();
    if (existing.length > 0 && configNames.length > 0) {
      const described = await this.admin.describeConfigs({
        resources: existing.map((name) => ({ type: ConfigResourceTypes.TOPIC, name, configNames: [...configNames] })),
        includeSynonyms: false,
      });
      for (const resource of described.resources) {
        configs.set(resource.resourceName, Object.fromEntries(resource.configEntries.map((entry) => [entry.configName, entry.configValue])));
      }
    }
    return { brokers: cluster.brokers, controller: cluster.controller, topics: present, configs };
  }

  /**
   * Writes one message with a unique key to `topic` (acks from all in-sync replicas) and reads it back
   * at the offset the broker assigned. Throws when the write or the read fails: that is a finding.
   */
  async roundTrip(topic: string): Promise<RoundTrip> {
    const started = performance.now();
    const key = `learnflow-verify-${os.hostname()}-${process.pid}-${randomBytes(6).toString('hex')}`;
    const value = `verify round trip at ${new Date().toISOString()}`;
    const producer = this.kafka.producer({ allowAutoTopicCreation: false, createPartitioner: Partitioners.DefaultPartitioner });
    const reader = this.internalCluster();
    try {
      await withTimeout(producer.connect(), this.timeoutMs, `${this.description}: producer`);
      const [written] = await withTimeout(producer.send({ topic, acks: -1, messages: [{ key, value }] }), this.timeoutMs, `${this.description}: produce to ${topic}`);
      const offset = written.baseOffset ?? written.offset;
      if (offset === undefined) throw new Error(`the broker acknowledged the write to ${topic} without an offset`);
      const message = await withTimeout(this.fetchAt(reader, topic, written.partition, offset), this.timeoutMs, `${this.description}: fetch from ${topic}`);
      const matched = message?.key?.toString() === key && message?.value?.toString() === value;
      return { partition: written.partition, offset, matched, elapsedMs: Math.round(performance.now() - started) };
    } finally {
      await Promise.all([producer.disconnect().catch(() => undefined), reader.disconnect().catch(() => undefined)]);
    }
  }

  /**
   * A plain Fetch of one offset from the partition leader. A consumer group would cost the broker's
   * group.initial.rebalance.delay.ms (3 s by default) on every run, longer than the whole verify should
   * take, and kafkajs has no group-less consumer: its internal Cluster (the one its consumer uses) does the fetch.
   */
  private async fetchAt(cluster: InternalCluster, topic: string, partition: number, offset: string) {
    await cluster.connect();
    await cluster.addTargetTopic(topic);
    const [leader] = Object.keys(cluster.findLeaderForPartitions(topic, [partition]));
    if (leader === undefined) throw new Error(`partition ${partition} of ${topic} has no leader`);
    const broker = await cluster.findBroker({ nodeId: leader });
    const response = await broker.fetch({
      replicaId: -1,
      isolationLevel: 1,
      maxWaitTime: Math.min(this.timeoutMs, 1_000),
      minBytes: 1,
      maxBytes: 1_048_576,
      topics: [{ topic, partitions: [{ partition, fetchOffset: offset, maxBytes: 1_048_576 }] }],
    });
    return response.responses.flatMap((r) => r.partitions).flatMap((p) => p.messages).find((m) => m.offset === offset);
  }

  private internalCluster(): InternalCluster {
    const symbol = Object.getOwnPropertySymbols(this.kafka).find((s) => s.description === 'private:Kafka:createCluster');
    const create = symbol && (this.kafka as unknown as Record<symbol, (options: object) => InternalCluster>)[symbol];
    if (!create) throw new Error('kafkajs no longer has the internal cluster factory the round trip fetches with (kafkajs upgraded?)');
    return create.call(this.kafka, { allowAutoTopicCreation: false });
  }

  async close(): Promise<void> {
    await this.admin?.disconnect().catch(() => undefined);
  }
}

function unavailable(description: string, error: unknown, auth: KafkaAuth): ClusterUnavailableError {
  if (error instanceof ClusterUnavailableError) return new ClusterUnavailableError(`${error.message}${refusalHint(error, auth)}`);
  // kafkajs's metadata parser rejects a whole answer that has a partition without a leader.
  const offline = error instanceof KafkaJSProtocolError && error.type === 'LEADER_NOT_AVAILABLE' ? ' (a partition has no leader: offline partitions?)' : '';
  const message = (error as Error).message;
  const cause = (error as { cause?: Error }).cause?.message;
  return new ClusterUnavailableError(`${description}: ${message}${cause && cause !== message ? ` (${cause})` : ''}${offline}${refusalHint(error, auth)}`);
}

/** Node's codes for a certificate that does not verify (tls.TLSSocket.authorizationError, as thrown by tls.connect). */
const UNTRUSTED_CERTIFICATE = /^(SELF_SIGNED_CERT_IN_CHAIN|DEPTH_ZERO_SELF_SIGNED_CERT|UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT(_LOCALLY)?|CERT_SIGNATURE_FAILURE|CERT_UNTRUSTED|ERR_TLS_CERT_ALTNAME_INVALID|CERT_HAS_EXPIRED)$/;

/** What to do about a refusal, said in words of the verifier's own flags: the error and its causes decide. */
function refusalHint(error: unknown, auth: KafkaAuth): string {
  const chain: { name?: string; code?: string; message?: string }[] = [];
  for (let e: any = error; e && chain.length < 6; e = e.cause ?? e.originalError) chain.push(e);
  if (auth.kind === 'scram') {
    const { credentials } = auth;
    if (chain.some((e) => e.name === 'KafkaJSSASLAuthenticationError')) {
      return ` (the brokers refused ${credentials.username}'s password from ${credentials.passwordFrom}: a wrong password, or the user does not exist yet: the users Job creates it)`;
    }
    const certificate = chain.find((e) => UNTRUSTED_CERTIFICATE.test(e.code ?? ''));
    if (certificate) {
      return ` (the brokers' certificate did not verify against the CA of ${credentials.caFrom}: ${certificate.code}; pass the CA of the brokers' certificate Secret, key ca.crt, with --kafka-ca-file)`;
    }
    return '';
  }
  // A TLS listener closes a connection that speaks Kafka's protocol in the clear.
  return auth.kind === 'plaintext' && chain.some((e) => /closed|ECONNRESET|EPIPE/i.test(`${e.code ?? ''} ${e.message ?? ''}`))
    ? ' (connected in the clear, as dist/ says the listener is PLAINTEXT: if the brokers require TLS and SCRAM, synthesize dist/ with kafka.security or pass --kafka-password-file and --kafka-ca-file)'
    : '';
}
