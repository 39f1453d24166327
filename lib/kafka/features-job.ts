import { Construct } from 'constructs';
import { kafkaObjectNames } from '../config/object-names';
import type { KafkaConfig, PlatformConfig } from '../config/schema';
import type { KafkaCluster } from './kafka-cluster';
import { KafkaToolJob } from './kafka-tool-job';

export interface FeaturesJobProps {
  readonly cluster: KafkaCluster;
  readonly config: KafkaConfig;
  readonly platform: PlatformConfig;
}

/** The Kafka release (major.minor) of a version such as 4.3.1: what `kafka-features.sh --release-version` takes. */
export function kafkaRelease(version: string): string {
  return version.split('.').slice(0, 2).join('.');
}

/**
 * Raises the cluster's finalized feature levels (metadata.version) to those of the image's release once every
 * broker and controller runs it (lib/kafka/features.sh): the last step of a version upgrade, after the roll.
 * The release is in its spec, so its content hash, and with it its name, changes with the image's release: a
 * deploy after an upgrade runs it again; on a cluster already there it changes nothing.
 */
export class FeaturesJob extends Construct {
  public readonly jobName: string;
  /** The release whose feature levels it finalizes. */
  public readonly release: string;

  constructor(scope: Construct, id: string, props: FeaturesJobProps) {
    super(scope, id);
    const { cluster, config } = props;
    this.release = kafkaRelease(cluster.version);
    const job = new KafkaToolJob(this, 'Tool', {
      cluster,
      kafkaName: config.name,
      platform: props.platform,
      namePrefix: kafkaObjectNames(config.name).featuresJobPrefix,
      component: 'features',
      settings: config.featuresJob,
      script: 'features.sh',
      env: () => [{ name: 'RELEASE_VERSION', value: this.release }],
    });
    this.jobName = job.jobName;
  }
}
