import { Construct } from 'constructs';
import { PlatformConfig, TopicSpec } from '../config/schema';
import { KafkaConfig } from '../config/schema';
import { contentHash } from '../platform/content-hash';
import { jobHookAnnotations } from '../platform/gitops';
import * as k8s from '../platform/k8s';
import { appLabels } from '../platform/labels';
import {
  resourceRequirements,
  restrictedContainerSecurityContext,
  restrictedPodSecurityContext,
  writableVolumes,
} from '../platform/pod-security';
import { readProjectFile } from '../platform/project-files';
import { KafkaCluster } from './kafka-cluster';

const MOUNT = '/etc/learnflow/topics';

export interface TopicsJobProps {
  readonly cluster: KafkaCluster;
  readonly config: KafkaConfig;
  readonly platform: PlatformConfig;
}

/**
 * Reconciles the declared topics on the running cluster with the stock Kafka tools: creates
 * missing topics, grows partitions, sets configs incrementally; never deletes or shrinks.
 */
export class TopicsJob extends Construct {
  public readonly jobName: string;
  /** Labels of the Job's pod. */
  public readonly podLabels: Record<string, string>;
  /** The label that admits the Job's pod to the brokers (NetworkPolicy). */
  public readonly clientSelector = { 'learnflow.dev/kafka-client': 'true' };

  constructor(scope: Construct, id: string, props: TopicsJobProps) {
    super(scope, id);
    const { cluster, config } = props;
    const script = readProjectFile('lib/kafka/reconcile-topics.sh');
    const topicsConf = renderTopicsConf(config.topics);
    const resources = config.topicsJob;
    // Everything the pod runs is in the name, so a change is a new Job, never an immutable-field error.
    const hash = contentHash(script, topicsConf, cluster.image, cluster.bootstrapServers, JSON.stringify(resources));
    const name = `${config.name}-topics-${hash}`;
    this.jobName = name;
    this.podLabels = { ...appLabels(config.name, 'topics'), ...this.clientSelector };

    new k8s.KubeConfigMap(this, 'Script', {
      metadata: { name, namespace: cluster.namespace, labels: this.podLabels },
      data: { 'reconcile-topics.sh': script, 'topics.conf': topicsConf },
    });

    const writable = writableVolumes([
      { name: 'tmp', mountPath: '/tmp', sizeLimit: '64Mi' },
      { name: 'logs', mountPath: '/opt/kafka/logs', sizeLimit: '64Mi' },
    ]);

    new k8s.KubeJob(this, 'Resource', {
      metadata: {
        name,
        namespace: cluster.namespace,
        labels: this.podLabels,
        annotations: jobHookAnnotations(props.platform.argoCdHooks),
      },
      spec: {
        backoffLimit: resources.backoffLimit,
        ttlSecondsAfterFinished: resources.ttlSecondsAfterFinished,
        template: {
          metadata: { labels: this.podLabels },
          spec: {
            restartPolicy: 'Never',
            enableServiceLinks: false,
            automountServiceAccountToken: false,
            securityContext: restrictedPodSecurityContext({ uid: 1000, gid: 1000 }),
            containers: [
              {
                name: 'reconcile-topics',
                image: cluster.image,
                imagePullPolicy: 'IfNotPresent',
                command: ['/bin/bash', `${MOUNT}/reconcile-topics.sh`],
                env: [
                  { name: 'BOOTSTRAP_SERVERS', value: cluster.bootstrapServers },
                  { name: 'TOPICS_FILE', value: `${MOUNT}/topics.conf` },
                  { name: 'WAIT_TIMEOUT_SECONDS', value: String(resources.waitTimeoutSeconds) },
                  // The CLI tools need little heap; the default would be 1 GiB per JVM.
                  { name: 'KAFKA_HEAP_OPTS', value: '-Xmx128m -Xms64m' },
                ],
                resources: resourceRequirements(resources.resources),
                securityContext: restrictedContainerSecurityContext(),
                volumeMounts: [{ name: 'script', mountPath: MOUNT, readOnly: true }, ...writable.mounts],
              },
            ],
            volumes: [{ name: 'script', configMap: { name } }, ...writable.volumes],
          },
        },
      },
    });
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
