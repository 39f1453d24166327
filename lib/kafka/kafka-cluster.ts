import { Construct } from 'constructs';
import { kafkaVersionOf } from '../config/kafka';
import { kafkaObjectNames, serviceHost } from '../config/object-names';
import { mebibytes } from '../config/quantity';
import type { KafkaConfig } from '../config/schema';
import { type EndpointsSection, type ExposesEndpoints, portForwardLine } from '../platform/endpoints';
import * as k8s from '../platform/k8s';
import { IntOrString } from '../platform/k8s';
import { appLabels, selectorLabels } from '../platform/labels';
import type { PodExtension } from '../platform/pod-extension';
import {
  resourceRequirements,
  restrictedContainerSecurityContext,
  restrictedPodSecurityContext,
  writableVolumes,
} from '../platform/pod-security';
import { DataStatefulSet, dataVolumeClaimTemplate } from '../platform/storage';

/** Ports inside the pod. The external listener is what `kubectl port-forward` reaches. */
export const KAFKA_PORTS = { internal: 9092, controller: 9093, external: 9094 } as const;

// apache/kafka runs as appuser, uid/gid 1000 (docker/jvm/Dockerfile `adduser -D appuser`).
export const KAFKA_UID = 1000;

// The PVC is mounted exactly at the image's VOLUME /var/lib/kafka/data: mounted anywhere else, the
// runtime would put an anonymous, per-container volume there, over the PVC, and a restarted container
// would come back with empty storage. log.dirs is a subdirectory of the mount, because ext4's
// lost+found at the mount root would be taken for a partition directory and stop the broker.
const DATA_MOUNT = '/var/lib/kafka/data';
const LOG_DIRS = `${DATA_MOUNT}/kraft`;

// The image's launcher: env -> server.properties (KafkaDockerWrapper), storage format, broker start.
const IMAGE_LAUNCHER = '/etc/kafka/docker/run';

export interface KafkaClusterProps {
  readonly namespace: string;
  readonly config: KafkaConfig;
  /** The cluster's DNS domain, in the brokers' host names. */
  readonly clusterDomain: string;
  /** What other concerns add to the broker pods (the metrics agent). @default - nothing */
  readonly podExtension?: PodExtension;
}

/**
 * Apache Kafka in KRaft mode on a plain StatefulSet: every pod is a combined broker and controller,
 * configured through the stock image's KAFKA_* environment mechanism.
 */
export class KafkaCluster extends Construct implements ExposesEndpoints {
  /** In-cluster bootstrap address for clients (the ClusterIP Service). */
  public readonly bootstrapServers: string;
  /** Per-broker in-cluster addresses on the headless Service, in ordinal order. */
  public readonly brokerAddresses: readonly string[];
  /** Per-broker addresses an operator reaches through `kubectl port-forward`. */
  public readonly externalAddresses: readonly string[];
  /** Per-broker local ports of those port-forwards (kafka.externalPortBase + ordinal). */
  public readonly externalPorts: readonly number[];
  public readonly namespace: string;
  public readonly headlessServiceName: string;
  public readonly bootstrapServiceName: string;
  public readonly statefulSetName: string;
  /** Labels that select the broker pods (for NetworkPolicies and PodDisruptionBudgets). */
  public readonly podSelector: Record<string, string>;
  public readonly image: string;
  /** The broker version, from the image tag (clients such as Dapr's Sarama choose protocol versions by it). */
  public readonly version: string;
  public readonly brokers: number;

  constructor(scope: Construct, id: string, props: KafkaClusterProps) {
    super(scope, id);
    const { config, namespace } = props;
    const extension = props.podExtension;
    this.namespace = namespace;
    this.image = config.image;
    this.version = kafkaVersionOf(config.image);
    this.brokers = config.brokers;
    const names = kafkaObjectNames(config.name);
    this.statefulSetName = names.statefulSet;
    this.headlessServiceName = names.headlessService;
    this.bootstrapServiceName = names.bootstrapService;
    this.podSelector = selectorLabels(config.name, 'broker');
    const labels = appLabels(config.name, 'broker');
    const podDns = (ordinal: number) =>
      `${this.statefulSetName}-${ordinal}.${serviceHost(this.headlessServiceName, namespace, props.clusterDomain)}`;
    const ordinals = [...Array(config.brokers).keys()];
    this.brokerAddresses = ordinals.map((i) => `${podDns(i)}:${KAFKA_PORTS.internal}`);
    this.externalPorts = ordinals.map((i) => config.externalPortBase + i);
    this.externalAddresses = this.externalPorts.map((port) => `localhost:${port}`);
    this.bootstrapServers = `${serviceHost(this.bootstrapServiceName, namespace, props.clusterDomain)}:${KAFKA_PORTS.internal}`;

    new k8s.KubeService(this, 'Headless', {
      metadata: { name: this.headlessServiceName, namespace, labels },
      spec: {
        clusterIp: 'None',
        // Voters must resolve each other before any of them is ready, or the quorum never forms.
        publishNotReadyAddresses: true,
        selector: this.podSelector,
        ports: [
          { name: 'internal', port: KAFKA_PORTS.internal, targetPort: IntOrString.fromString('internal') },
          { name: 'controller', port: KAFKA_PORTS.controller, targetPort: IntOrString.fromString('controller') },
        ],
      },
    });

    new k8s.KubeService(this, 'Bootstrap', {
      metadata: { name: this.bootstrapServiceName, namespace, labels },
      spec: {
        type: 'ClusterIP',
        selector: this.podSelector,
        ports: [{ name: 'internal', port: KAFKA_PORTS.internal, targetPort: IntOrString.fromString('internal') }],
      },
    });

    const writable = writableVolumes([
      // KafkaDockerWrapper writes the final server.properties and log4j2 files here, and the
      // launcher refuses to start when it is not writable.
      { name: 'config', mountPath: '/opt/kafka/config', sizeLimit: '16Mi' },
      { name: 'logs', mountPath: '/opt/kafka/logs', sizeLimit: '1Gi' },
      // JVM hsperfdata, and compression codecs unpack their native libraries into java.io.tmpdir.
      { name: 'tmp', mountPath: '/tmp', sizeLimit: '256Mi' },
      ...(extension?.writablePaths ?? []),
    ]);

    const heapMiB = Math.floor((mebibytes(config.resources.limits.memory) * config.heapPercent) / 100);
    const voters = ordinals.map((i) => `${i}@${podDns(i)}:${KAFKA_PORTS.controller}`).join(',');

    new DataStatefulSet(this, 'Resource', {
      metadata: { name: this.statefulSetName, namespace, labels },
      spec: {
        serviceName: this.headlessServiceName,
        replicas: config.brokers,
        // OrderedReady would wait for kafka-0 to be ready, which needs a quorum of voters: deadlock.
        podManagementPolicy: 'Parallel',
        // The listener opens before a restarted broker has caught up on replication; a minute's pause
        // before the next one rolls keeps acks=all producers clear of NotEnoughReplicas.
        minReadySeconds: 60,
        updateStrategy: { type: 'RollingUpdate' },
        persistentVolumeClaimRetentionPolicy: { whenDeleted: 'Retain', whenScaled: 'Retain' },
        selector: { matchLabels: this.podSelector },
        template: {
          metadata: { labels },
          spec: {
            // A Service named kafka would inject KAFKA_PORT & co., which the image turns into properties.
            enableServiceLinks: false,
            automountServiceAccountToken: false,
            securityContext: restrictedPodSecurityContext({ uid: KAFKA_UID, gid: KAFKA_UID }),
            // Controlled shutdown moves partition leadership away before the process exits.
            terminationGracePeriodSeconds: 120,
            affinity: { podAntiAffinity: antiAffinity(config.antiAffinity, this.podSelector) },
            topologySpreadConstraints: [
              {
                maxSkew: 1,
                topologyKey: 'topology.kubernetes.io/zone',
                whenUnsatisfiable: 'ScheduleAnyway',
                labelSelector: { matchLabels: this.podSelector },
              },
            ],
            ...(extension ? { initContainers: [...extension.initContainers] } : {}),
            containers: [
              {
                name: 'kafka',
                image: config.image,
                imagePullPolicy: 'IfNotPresent',
                // The only value env cannot express: each broker's own port-forward port (19092 + ordinal).
                command: ['/bin/bash', '-ec'],
                args: [
                  [
                    // biome-ignore lint/suspicious/noTemplateCurlyInString: ${POD_NAME} is for bash, not JavaScript.
                    'export KAFKA_ADVERTISED_LISTENERS="INTERNAL://${POD_NAME}.' +
                      // biome-ignore lint/suspicious/noTemplateCurlyInString: ${POD_NAMESPACE} is for bash too.
                      `${serviceHost(this.headlessServiceName, '${POD_NAMESPACE}', props.clusterDomain)}:${KAFKA_PORTS.internal},` +
                      `EXTERNAL://localhost:$((${config.externalPortBase} + KAFKA_NODE_ID))"`,
                    `exec ${IMAGE_LAUNCHER}`,
                  ].join('\n'),
                ],
                env: [
                  { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
                  { name: 'POD_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
                  // Kubernetes 1.28+ labels StatefulSet pods with their ordinal.
                  {
                    name: 'KAFKA_NODE_ID',
                    valueFrom: { fieldRef: { fieldPath: "metadata.labels['apps.kubernetes.io/pod-index']" } },
                  },
                  { name: 'CLUSTER_ID', value: config.clusterId },
                  { name: 'KAFKA_PROCESS_ROLES', value: 'broker,controller' },
                  {
                    name: 'KAFKA_LISTENERS',
                    value: `INTERNAL://:${KAFKA_PORTS.internal},CONTROLLER://:${KAFKA_PORTS.controller},EXTERNAL://:${KAFKA_PORTS.external}`,
                  },
                  {
                    name: 'KAFKA_LISTENER_SECURITY_PROTOCOL_MAP',
                    value: 'INTERNAL:PLAINTEXT,CONTROLLER:PLAINTEXT,EXTERNAL:PLAINTEXT',
                  },
                  { name: 'KAFKA_INTER_BROKER_LISTENER_NAME', value: 'INTERNAL' },
                  { name: 'KAFKA_CONTROLLER_LISTENER_NAMES', value: 'CONTROLLER' },
                  // Static voters: the stock launcher formats storage without --standalone or
                  // --initial-controllers, which a dynamic quorum would need (KAFKA-18737).
                  { name: 'KAFKA_CONTROLLER_QUORUM_VOTERS', value: voters },
                  { name: 'KAFKA_LOG_DIRS', value: LOG_DIRS },
                  // Env-configured images get none of server.properties' defaults: every replication
                  // factor is explicit, and a single broker must not ask for 3 copies of internal topics.
                  { name: 'KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR', value: String(config.defaultReplicationFactor) },
                  { name: 'KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR', value: String(config.defaultReplicationFactor) },
                  { name: 'KAFKA_TRANSACTION_STATE_LOG_MIN_ISR', value: String(config.minInsyncReplicas) },
                  {
                    name: 'KAFKA_SHARE_COORDINATOR_STATE_TOPIC_REPLICATION_FACTOR',
                    value: String(config.defaultReplicationFactor),
                  },
                  { name: 'KAFKA_SHARE_COORDINATOR_STATE_TOPIC_MIN_ISR', value: String(config.minInsyncReplicas) },
                  { name: 'KAFKA_DEFAULT_REPLICATION_FACTOR', value: String(config.defaultReplicationFactor) },
                  { name: 'KAFKA_MIN_INSYNC_REPLICAS', value: String(config.minInsyncReplicas) },
                  // Topics are owned by the topics Job; a typo in a producer must not create one.
                  { name: 'KAFKA_AUTO_CREATE_TOPICS_ENABLE', value: 'false' },
                  // Heap is a fixed share of the limit; the rest is page cache, metaspace and buffers.
                  { name: 'KAFKA_HEAP_OPTS', value: `-Xmx${heapMiB}m -Xms${heapMiB}m` },
                  { name: 'LOG_DIR', value: '/opt/kafka/logs' },
                  // kafka-server-start.sh defaults to '-loggc', whose 10 x 100 MB GC log would outgrow the
                  // logs emptyDir and get the pod evicted; GC events still go to the console log.
                  { name: 'EXTRA_ARGS', value: '-name kafkaServer' },
                  ...(extension?.env ?? []),
                ],
                ports: [
                  { name: 'internal', containerPort: KAFKA_PORTS.internal },
                  { name: 'controller', containerPort: KAFKA_PORTS.controller },
                  { name: 'external', containerPort: KAFKA_PORTS.external },
                  ...(extension?.ports ?? []),
                ],
                resources: resourceRequirements(config.resources, writable),
                securityContext: restrictedContainerSecurityContext(),
                // Log recovery after an unclean stop can take minutes; the startup probe covers it
                // so that liveness does not kill a broker that is still recovering.
                startupProbe: tcpProbe('internal', { periodSeconds: 10, failureThreshold: 60 }),
                readinessProbe: tcpProbe('internal', { periodSeconds: 10, failureThreshold: 3 }),
                livenessProbe: tcpProbe('controller', { periodSeconds: 20, failureThreshold: 6 }),
                volumeMounts: [{ name: 'data', mountPath: DATA_MOUNT }, ...writable.mounts, ...(extension?.volumeMounts ?? [])],
              },
            ],
            volumes: [...writable.volumes, ...(extension?.volumes ?? [])],
          },
        },
        volumeClaimTemplates: [dataVolumeClaimTemplate(labels, config.storage)],
      },
    });

    new k8s.KubePodDisruptionBudget(this, 'Budget', {
      metadata: { name: config.name, namespace, labels },
      spec: {
        // One voter down at a time keeps a 3-voter quorum (and, with min.insync.replicas 2, acks=all writes).
        maxUnavailable: IntOrString.fromNumber(1),
        selector: { matchLabels: this.podSelector },
        // A crash-looping broker must not block node drains forever.
        unhealthyPodEvictionPolicy: 'AlwaysAllow',
      },
    });
  }

  endpoints(): EndpointsSection {
    return {
      heading: 'Kafka',
      lines: [
        `bootstrap (in-cluster):  ${this.bootstrapServers}`,
        ...this.brokerAddresses.map((address, i) => `broker ${i} (in-cluster):  ${address}`),
        ...this.externalPorts.map(
          (port, i) =>
            `broker ${i} (port-forward): ${portForwardLine(port, this.namespace, `pod/${this.statefulSetName}-${i}`, KAFKA_PORTS.external)}`,
        ),
      ],
    };
  }
}

function antiAffinity(mode: 'preferred' | 'required', selector: Record<string, string>): k8s.PodAntiAffinity {
  const term: k8s.PodAffinityTerm = { topologyKey: 'kubernetes.io/hostname', labelSelector: { matchLabels: selector } };
  return mode === 'required'
    ? { requiredDuringSchedulingIgnoredDuringExecution: [term] }
    : { preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 100, podAffinityTerm: term }] };
}

function tcpProbe(port: string, timing: { periodSeconds: number; failureThreshold: number }): k8s.Probe {
  return { tcpSocket: { port: IntOrString.fromString(port) }, timeoutSeconds: 5, ...timing };
}

