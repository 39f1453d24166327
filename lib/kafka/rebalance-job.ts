import { Construct } from 'constructs';
import { kafkaObjectNames } from '../config/object-names';
import type { KafkaConfig, PlatformConfig } from '../config/schema';
import type { KafkaCluster } from './kafka-cluster';
import { KafkaToolJob } from './kafka-tool-job';

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
    const job = new KafkaToolJob(this, 'Tool', {
      cluster,
      kafkaName: config.name,
      platform: props.platform,
      namePrefix: kafkaObjectNames(config.name).rebalanceJobPrefix,
      component: 'rebalance',
      settings: config.rebalanceJob,
      script: 'rebalance.sh',
      // Only the names: a change of a topic's retention need not run the Job again.
      files: { topics: `${config.topics.map((topic) => topic.name).join('\n')}\n` },
      env: (mountPath) => [
        { name: 'TOPICS_FILE', value: `${mountPath}/topics` },
        { name: 'BROKERS', value: String(cluster.brokers) },
        { name: 'THROTTLE_BYTES_PER_SECOND', value: String(config.rebalanceThrottleBytesPerSecond) },
      ],
    });
    this.jobName = job.jobName;
  }
}
