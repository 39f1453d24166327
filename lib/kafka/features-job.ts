import { Construct } from 'constructs';
import { kafkaObjectNames } from '../config/object-names';
import type { KafkaConfig, PlatformConfig } from '../config/schema';
import { HashedJob } from '../platform/hashed-job';
import { appLabels } from '../platform/labels';
import { readProjectFile } from '../platform/project-files';
import { KAFKA_UID, type KafkaCluster } from './kafka-cluster';
import { KAFKA_CLIENT_JOB_LABELS } from './topics-job';

const MOUNT = '/etc/learnflow/features';

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
    const job = new HashedJob(this, 'Job', {
      namePrefix: kafkaObjectNames(config.name).featuresJobPrefix,
      namespace: cluster.namespace,
      labels: { ...appLabels(config.name, 'features'), ...KAFKA_CLIENT_JOB_LABELS },
      settings: config.featuresJob,
      identity: { uid: KAFKA_UID, gid: KAFKA_UID },
      argoCdHooks: props.platform.argoCdHooks,
      files: { 'features.sh': readProjectFile('lib/kafka/features.sh') },
      mountPath: MOUNT,
      container: {
        name: 'features',
        image: cluster.image,
        imagePullPolicy: 'IfNotPresent',
        command: ['/bin/bash', `${MOUNT}/features.sh`],
        env: [
          { name: 'BOOTSTRAP_SERVERS', value: cluster.bootstrapServers },
          { name: 'RELEASE_VERSION', value: this.release },
          { name: 'WAIT_TIMEOUT_SECONDS', value: String(config.featuresJob.waitTimeoutSeconds) },
          { name: 'KAFKA_HEAP_OPTS', value: '-Xmx128m -Xms64m' },
        ],
      },
      writablePaths: [
        { name: 'tmp', mountPath: '/tmp', sizeLimit: '64Mi' },
        { name: 'logs', mountPath: '/opt/kafka/logs', sizeLimit: '64Mi' },
      ],
    });
    this.jobName = job.jobName;
  }
}
