import { Construct } from 'constructs';
import type { JobSettings } from '../config/job';
import type { PlatformConfig } from '../config/schema';
import { HashedJob, type SecretFile } from '../platform/hashed-job';
import { appLabels } from '../platform/labels';
import { readProjectFile } from '../platform/project-files';
import type * as k8s from '../platform/k8s';
import type { WritablePath } from '../platform/pod-security';
import { KAFKA_UID, type KafkaCluster } from './kafka-cluster';
import { KAFKA_CLIENT_JOB_LABELS } from './topics-job';

export interface KafkaToolJobProps {
  readonly cluster: KafkaCluster;
  /** kafka.name: the Job's labels. */
  readonly kafkaName: string;
  readonly platform: PlatformConfig;
  /** The name is `<namePrefix>-<hash>`. */
  readonly namePrefix: string;
  /** app.kubernetes.io/component, and the container's name. */
  readonly component: string;
  readonly settings: JobSettings;
  /** The bash script under lib/kafka/ the Job runs (e.g. rebalance.sh), shipped in its ConfigMap. */
  readonly script: string;
  /** Further files of the ConfigMap. @default - none */
  readonly files?: Record<string, string>;
  /** Keys of Secrets the script reads, besides the admin certificate's. @default - none */
  readonly secretFiles?: readonly SecretFile[];
  /** Writable directories besides /tmp, the logs and the admin keystore's. @default - none */
  readonly writablePaths?: readonly WritablePath[];
  /** The script's environment besides BOOTSTRAP_SERVERS, the admin client TLS, WAIT_TIMEOUT_SECONDS and the tools' heap, given where the files are. */
  readonly env: (mountPath: string) => readonly k8s.EnvVar[];
}

/**
 * A content-hashed Job that runs a bash script over Kafka's own tools on the brokers' image (restricted Pod
 * Security, one tool JVM at a time), admitted to the brokers like the topics Job; with kafka.security it
 * presents the admin certificate (KafkaTls.adminClient) on the kafka-admin Service's listener.
 */
export class KafkaToolJob extends Construct {
  public readonly jobName: string;
  /** Where the ConfigMap's files are mounted. */
  public readonly mountPath: string;

  constructor(scope: Construct, id: string, props: KafkaToolJobProps) {
    super(scope, id);
    const { cluster } = props;
    this.mountPath = `/etc/learnflow/${props.component}`;
    // kafka.security: the tools connect through the kafka-admin Service with the admin certificate (client-tls.sh).
    const admin = cluster.tls.adminClient();
    const job = new HashedJob(this, 'Job', {
      namePrefix: props.namePrefix,
      namespace: cluster.namespace,
      labels: { ...appLabels(props.kafkaName, props.component), ...KAFKA_CLIENT_JOB_LABELS },
      settings: props.settings,
      identity: { uid: KAFKA_UID, gid: KAFKA_UID },
      argoCdHooks: props.platform.argoCdHooks,
      // tool-common.sh: the scripts' shared start (deadline, tool JVM options, log, the client config).
      files: { [props.script]: readProjectFile(`lib/kafka/${props.script}`), 'tool-common.sh': readProjectFile('lib/kafka/tool-common.sh'), ...props.files, ...admin.files },
      mountPath: this.mountPath,
      container: {
        name: props.component,
        image: cluster.image,
        imagePullPolicy: 'IfNotPresent',
        command: ['/bin/bash', `${this.mountPath}/${props.script}`],
        env: [
          { name: 'BOOTSTRAP_SERVERS', value: cluster.adminBootstrapServers },
          ...admin.env,
          ...props.env(this.mountPath),
          { name: 'WAIT_TIMEOUT_SECONDS', value: String(props.settings.waitTimeoutSeconds) },
          { name: 'KAFKA_HEAP_OPTS', value: '-Xmx128m -Xms64m' },
        ],
      },
      secretFiles: [...admin.secretFiles, ...(props.secretFiles ?? [])],
      writablePaths: [
        { name: 'tmp', mountPath: '/tmp', sizeLimit: '64Mi' },
        { name: 'logs', mountPath: '/opt/kafka/logs', sizeLimit: '64Mi' },
        ...admin.writablePaths,
        ...(props.writablePaths ?? []),
      ],
    });
    this.jobName = job.jobName;
  }
}
