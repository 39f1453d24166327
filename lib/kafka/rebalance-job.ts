import { Construct } from 'constructs';
import { kafkaObjectNames } from '../config/object-names';
import type { KafkaConfig, PlatformConfig } from '../config/schema';
import { HashedJob } from '../platform/hashed-job';
import { appLabels } from '../platform/labels';
import { readProjectFile } from '../platform/project-files';
import { KAFKA_UID, type KafkaCluster } from './kafka-cluster';
import { KAFKA_CLIENT_JOB_LABELS } from './topics-job';

const MOUNT = '/etc/learnflow/rebalance';

export interface RebalanceJobProps {
  readonly cluster: KafkaCluster;
  readonly config: KafkaConfig;
  readonly platform: PlatformConfig;
}

/**
 * Spreads the declared topics' replicas fairly over the brokers of the StatefulSet (lib/kafka/rebalance.sh):
 * after a scale-out it moves replicas onto the new brokers, with a replication throttle that its
 * `--verify` removes; a balanced cluster is left alone. The broker count is in its spec, so its content
 * hash, and with it its name, changes with `kafka.brokers`: a deploy after a scale-out runs it again.
 */
export class RebalanceJob extends Construct {
  public readonly jobName: string;

  constructor(scope: Construct, id: string, props: RebalanceJobProps) {
    super(scope, id);
    const { cluster, config } = props;
    const admin = cluster.tls.adminClient();
    const job = new HashedJob(this, 'Job', {
      namePrefix: kafkaObjectNames(config.name).rebalanceJobPrefix,
      namespace: cluster.namespace,
      labels: { ...appLabels(config.name, 'rebalance'), ...KAFKA_CLIENT_JOB_LABELS },
      settings: config.rebalanceJob,
      identity: { uid: KAFKA_UID, gid: KAFKA_UID },
      argoCdHooks: props.platform.argoCdHooks,
      // Only the names: a change of a topic's retention need not run the Job again.
      files: { 'rebalance.sh': readProjectFile('lib/kafka/rebalance.sh'), topics: `${config.topics.map((topic) => topic.name).join('\n')}\n`, ...admin.files },
      mountPath: MOUNT,
      container: {
        name: 'rebalance',
        image: cluster.image,
        imagePullPolicy: 'IfNotPresent',
        command: ['/bin/bash', `${MOUNT}/rebalance.sh`],
        env: [
          { name: 'BOOTSTRAP_SERVERS', value: cluster.adminBootstrapServers },
          ...admin.env,
          { name: 'TOPICS_FILE', value: `${MOUNT}/topics` },
          { name: 'BROKERS', value: String(cluster.brokers) },
          { name: 'THROTTLE_BYTES_PER_SECOND', value: String(config.rebalanceThrottleBytesPerSecond) },
          { name: 'WAIT_TIMEOUT_SECONDS', value: String(config.rebalanceJob.waitTimeoutSeconds) },
          { name: 'KAFKA_HEAP_OPTS', value: '-Xmx128m -Xms64m' },
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
}
