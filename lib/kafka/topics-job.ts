import { Construct } from 'constructs';
import { kafkaObjectNames } from '../config/object-names';
import type { KafkaConfig, PlatformConfig, TopicSpec } from '../config/schema';
import type { EndpointsSection, ExposesEndpoints } from '../platform/endpoints';
import { HashedJob } from '../platform/hashed-job';
import { appLabels } from '../platform/labels';
import { readProjectFile } from '../platform/project-files';
import { KAFKA_UID, type KafkaCluster } from './kafka-cluster';

const MOUNT = '/etc/learnflow/topics';

/** The label of the Jobs that run Kafka's tools (topics, rebalance, features): the NetworkPolicies admit them to the client port. */
export const KAFKA_CLIENT_JOB_LABELS = { 'learnflow.dev/kafka-client': 'true' } as const;

export interface TopicsJobProps {
  readonly cluster: KafkaCluster;
  readonly config: KafkaConfig;
  readonly platform: PlatformConfig;
}

/**
 * Reconciles the declared topics on the running cluster with the stock Kafka tools: creates
 * missing topics, grows partitions, sets configs incrementally; never deletes or shrinks.
 */
export class TopicsJob extends Construct implements ExposesEndpoints {
  public readonly jobName: string;
  /** Labels of the Job's pod. */
  public readonly podLabels: Record<string, string>;
  /** The label that admits the Job's pod to the brokers (NetworkPolicy). */
  public readonly clientSelector: Record<string, string> = KAFKA_CLIENT_JOB_LABELS;
  /** The topics the Job reconciles, in config order. */
  public readonly topicNames: readonly string[];

  constructor(scope: Construct, id: string, props: TopicsJobProps) {
    super(scope, id);
    const { cluster, config } = props;
    const admin = cluster.tls.adminClient();
    this.podLabels = { ...appLabels(config.name, 'topics'), ...this.clientSelector };
    this.topicNames = config.topics.map((topic) => topic.name);
    const job = new HashedJob(this, 'Job', {
      namePrefix: kafkaObjectNames(config.name).topicsJobPrefix,
      namespace: cluster.namespace,
      labels: this.podLabels,
      settings: config.topicsJob,
      identity: { uid: KAFKA_UID, gid: KAFKA_UID },
      argoCdHooks: props.platform.argoCdHooks,
      files: { 'reconcile-topics.sh': readProjectFile('lib/kafka/reconcile-topics.sh'), 'topics.conf': renderTopicsConf(config.topics), ...admin.files },
      mountPath: MOUNT,
      container: {
        name: 'reconcile-topics',
        image: cluster.image,
        imagePullPolicy: 'IfNotPresent',
        command: ['/bin/bash', `${MOUNT}/reconcile-topics.sh`],
        env: [
          { name: 'BOOTSTRAP_SERVERS', value: cluster.adminBootstrapServers },
          ...admin.env,
          { name: 'TOPICS_FILE', value: `${MOUNT}/topics.conf` },
          { name: 'WAIT_TIMEOUT_SECONDS', value: String(config.topicsJob.waitTimeoutSeconds) },
          // The CLI tools need little heap; the default would be 1 GiB per JVM.
          { name: 'KAFKA_HEAP_OPTS', value: '-Xmx128m -Xms64m' },
          // Two tool JVMs at once (up to ~210 MiB resident each) stay inside the 512Mi limit.
          { name: 'MAX_PARALLEL_TOOLS', value: '2' },
        ],
      },
      secretFiles: admin.secretFiles,
      writablePaths: [
        { name: 'tmp', mountPath: '/tmp', sizeLimit: '64Mi' },
        { name: 'logs', mountPath: '/opt/kafka/logs', sizeLimit: '64Mi' },
        ...admin.writablePaths,
      ],
    });
    this.jobName = job.jobName;
  }

  /** The topics line of the Kafka section. */
  endpoints(): EndpointsSection {
    return { heading: 'Kafka', lines: [`topics: ${this.topicNames.join(', ')}`] };
  }
}

/** One line per topic: `<name> <partitions> <replicationFactor> <key=value,...>` (read by the script). */
export function renderTopicsConf(topics: readonly TopicSpec[]): string {
  const header = [
    '# Declared topics, reconciled by reconcile-topics.sh.',
    '# name partitions replication-factor configs',
  ];
  const lines = topics.map((topic) => {
    const configs: Record<string, string> = {
      'cleanup.policy': topic.cleanupPolicy,
      'min.insync.replicas': String(topic.minInsyncReplicas),
      'retention.ms': String(topic.retention),
      ...topic.configs,
    };
    const rendered = Object.keys(configs)
      .sort()
      .map((key) => `${key}=${configs[key]}`)
      .join(',');
    return `${topic.name} ${topic.partitions} ${topic.replicationFactor} ${rendered}`;
  });
  return [...header, ...lines, ''].join('\n');
}
