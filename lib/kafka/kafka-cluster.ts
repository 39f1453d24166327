import { Construct } from 'constructs';
import { kafkaVersionOf } from '../config/kafka';
import { kafkaObjectNames, serviceHost } from '../config/object-names';
import { mebibytes, type Resources } from '../config/quantity';
import type { KafkaConfig } from '../config/schema';
import { type EndpointsSection, type ExposesEndpoints, portForwardLine } from '../platform/endpoints';
import * as k8s from '../platform/k8s';
import { IntOrString } from '../platform/k8s';
import { readProjectFile } from '../platform/project-files';
import { appLabels, KAFKA_INSECURE_ANNOTATION, selectorLabels } from '../platform/labels';
import type { PodExtension } from '../platform/pod-extension';
import {
  resourceRequirements,
  restrictedContainerSecurityContext,
  restrictedPodSecurityContext,
  writableVolumes,
} from '../platform/pod-security';
import { DataStatefulSet, dataVolumeClaimTemplate, type StorageSettings } from '../platform/storage';
import { KafkaTls } from './kafka-tls';

/**
 * Ports inside the pod. The external listener is what `kubectl port-forward` reaches; JMX listens on the
 * pod's loopback only, for the readiness sidecar. With kafka.security, brokers replicate, and the admin Jobs
 * connect, on the interBroker listener (TLS client certificates), and the services on the internal one (SCRAM).
 */
export const KAFKA_PORTS = { internal: 9092, controller: 9093, external: 9094, interBroker: 9095, jmx: 9999 } as const;

// Dedicated controllers take node ids from here (brokers keep their ordinal: kafka.brokers <= 99), so that
// no broker and controller share an id.
export const CONTROLLER_NODE_ID_BASE = 100;

// The readiness sidecar's sample period, and how old a sample the probe accepts (the JVM may miss one).
const READINESS_INTERVAL_MS = 5_000;
const READINESS_DIR = '/var/run/kafka-readiness';

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
  /**
   * What other concerns add to every Kafka pod, brokers and dedicated controllers alike (the metrics
   * agent). @default - nothing
   */
  readonly podExtension?: PodExtension;
}

/** What a StatefulSet of Kafka nodes runs: brokers and voters (combined), brokers only, or voters only. */
export type NodeRole = 'combined' | 'broker' | 'controller';

export interface NodeSet {
  readonly role: NodeRole;
  readonly statefulSet: string;
  readonly headlessService: string;
  readonly replicas: number;
  readonly selector: Record<string, string>;
  readonly labels: Record<string, string>;
  readonly resources: Resources;
  readonly storage: StorageSettings;
  /** node.id = base + the pod's ordinal. */
  readonly nodeIdBase: number;
}

/**
 * Apache Kafka in KRaft mode on plain StatefulSets, configured through the stock image's KAFKA_*
 * environment: a StatefulSet of brokers and, with `dedicatedControllers`, one of KRaft voters apart from
 * them (otherwise every broker is also a voter). Static voters: see `quorumVoters`.
 */
export class KafkaCluster extends Construct implements ExposesEndpoints {
  /** In-cluster bootstrap address for clients (the ClusterIP Service). */
  public readonly bootstrapServers: string;
  /**
   * In-cluster bootstrap address for the admin Jobs (topics, rebalance, features): the client one, or with kafka.security
   * the interBroker listener, where they present the admin certificate (`tls.adminClient()`).
   */
  public readonly adminBootstrapServers: string;
  /** Certificates and TLS settings (kafka.security); `tls.enabled` false when it is off. */
  public readonly tls: KafkaTls;
  /** Per-broker in-cluster addresses on the headless Service, in ordinal order. */
  public readonly brokerAddresses: readonly string[];
  /** Per-broker addresses an operator reaches through `kubectl port-forward`. */
  public readonly externalAddresses: readonly string[];
  /** Per-broker local ports of those port-forwards (kafka.externalPortBase + ordinal). */
  public readonly externalPorts: readonly number[];
  public readonly namespace: string;
  public readonly headlessServiceName: string;
  public readonly bootstrapServiceName: string;
  /** The brokers' StatefulSet. */
  public readonly statefulSetName: string;
  /** Labels that select the broker pods (for NetworkPolicies and PodDisruptionBudgets). */
  public readonly podSelector: Record<string, string>;
  /** Labels that select the KRaft voters: the broker pods themselves when every broker is a voter. */
  public readonly controllerSelector: Record<string, string>;
  /** The voters' own StatefulSet, with `dedicatedControllers`. */
  public readonly controllerStatefulSetName?: string;
  /** The StatefulSets of Kafka nodes: the brokers, then the dedicated controllers if any. */
  public readonly nodeSets: readonly NodeSet[];
  public readonly image: string;
  /** The broker version, from the image tag (clients such as Dapr's Sarama choose protocol versions by it). */
  public readonly version: string;
  public readonly brokers: number;
  /** controller.quorum.voters: `<node id>@<pod>.<headless Service>:<controller port>` of every voter. */
  public readonly quorumVoters: string;

  constructor(scope: Construct, id: string, props: KafkaClusterProps) {
    super(scope, id);
    const { config, namespace, clusterDomain } = props;
    this.namespace = namespace;
    this.image = config.image;
    this.version = kafkaVersionOf(config.image);
    this.brokers = config.brokers;
    const names = kafkaObjectNames(config.name);
    this.statefulSetName = names.statefulSet;
    this.headlessServiceName = names.headlessService;
    this.bootstrapServiceName = names.bootstrapService;
    // The broker pods keep the selector of the combined nodes: selectors are immutable.
    const brokerSet: NodeSet = {
      role: config.dedicatedControllers ? 'broker' : 'combined',
      statefulSet: names.statefulSet,
      headlessService: names.headlessService,
      replicas: config.brokers,
      selector: selectorLabels(config.name, 'broker'),
      labels: appLabels(config.name, 'broker'),
      resources: config.resources,
      storage: config.storage,
      nodeIdBase: 0,
    };
    const controllerSet: NodeSet | undefined = config.dedicatedControllers
      ? {
          role: 'controller',
          statefulSet: names.controllerStatefulSet,
          headlessService: names.controllerHeadlessService,
          replicas: config.controllers,
          selector: selectorLabels(config.name, 'controller'),
          labels: appLabels(config.name, 'controller'),
          resources: config.controllerResources,
          storage: config.controllerStorage,
          nodeIdBase: CONTROLLER_NODE_ID_BASE,
        }
      : undefined;
    const voterSet = controllerSet ?? brokerSet;
    this.podSelector = brokerSet.selector;
    this.controllerSelector = voterSet.selector;
    this.controllerStatefulSetName = controllerSet?.statefulSet;

    const podDns = (set: NodeSet, ordinal: number) =>
      `${set.statefulSet}-${ordinal}.${serviceHost(set.headlessService, namespace, clusterDomain)}`;
    const ordinals = [...Array(config.brokers).keys()];
    this.brokerAddresses = ordinals.map((i) => `${podDns(brokerSet, i)}:${KAFKA_PORTS.internal}`);
    this.externalPorts = ordinals.map((i) => config.externalPortBase + i);
    this.externalAddresses = this.externalPorts.map((port) => `localhost:${port}`);
    const bootstrapHost = serviceHost(this.bootstrapServiceName, namespace, clusterDomain);
    this.bootstrapServers = `${bootstrapHost}:${KAFKA_PORTS.internal}`;
    const adminHost = serviceHost(names.adminService, namespace, clusterDomain);
    this.adminBootstrapServers = config.security.enabled ? `${adminHost}:${KAFKA_PORTS.interBroker}` : this.bootstrapServers;
    this.nodeSets = controllerSet ? [brokerSet, controllerSet] : [brokerSet];
    // The bootstrap and admin Services by every name the cluster DNS answers for them (the verifier's
    // kafka-client-port accepts the short ones too), and localhost for the port-forwarded external listener
    // (advertised as localhost:<port>).
    const serviceNames = [
      ...[this.bootstrapServiceName, names.adminService].flatMap((service) => [serviceHost(service, namespace, clusterDomain), `${service}.${namespace}.svc`, `${service}.${namespace}`]),
      'localhost',
    ];
    this.tls = new KafkaTls(this, 'Tls', {
      config,
      namespace,
      // Pods by their headless names (advertised listeners, voters): a wildcard, so that a scale-out needs no new certificate.
      dnsNames: [...this.nodeSets.map((set) => `*.${serviceHost(set.headlessService, namespace, clusterDomain)}`), ...serviceNames],
      // What the workloads of dist/ dial: the pods (advertised listeners, voters), the Services' full names, and the
      // port-forward's localhost (npm run verify -- --live); the short names are for the user's own clients.
      hostNames: [
        ...this.nodeSets.flatMap((set) => [...Array(set.replicas).keys()].map((i) => podDns(set, i))),
        ...[this.bootstrapServiceName, names.adminService].map((service) => serviceHost(service, namespace, clusterDomain)),
        'localhost',
      ],
    });
    // Static voters: the stock launcher formats storage without --standalone or --initial-controllers,
    // which a dynamic quorum (KIP-853) needs (KAFKA-18737), so the voter set is fixed at install. A new
    // set is refused by `npm run deploy` (README, "Kafka operations").
    this.quorumVoters = [...Array(voterSet.replicas).keys()]
      .map((i) => `${voterSet.nodeIdBase + i}@${podDns(voterSet, i)}:${KAFKA_PORTS.controller}`)
      .join(',');

    new k8s.KubeService(this, 'Bootstrap', {
      metadata: { name: this.bootstrapServiceName, namespace, labels: brokerSet.labels },
      spec: {
        type: 'ClusterIP',
        selector: this.podSelector,
        // Ready means "safe to take the next one" (readiness-check.sh): while one broker catches up its
        // peers are not Ready, and a client that starts meanwhile must still find them.
        publishNotReadyAddresses: true,
        ports: [{ name: 'internal', port: KAFKA_PORTS.internal, targetPort: IntOrString.fromString('internal') }],
      },
    });
    if (this.tls.enabled) {
      // The admin Jobs' bootstrap on the certificate listener: a Service of its own, so that the services'
      // bootstrap Service offers them only the port they may use; headless, its name resolves to every broker.
      new k8s.KubeService(this, 'Admin', {
        metadata: { name: names.adminService, namespace, labels: brokerSet.labels },
        spec: {
          clusterIp: 'None',
          publishNotReadyAddresses: true,
          selector: this.podSelector,
          ports: [{ name: 'inter-broker', port: KAFKA_PORTS.interBroker, targetPort: IntOrString.fromString('inter-broker') }],
        },
      });
    }
    for (const set of this.nodeSets) this.nodeSet(set, config, clusterDomain, props.podExtension);
  }

  endpoints(): EndpointsSection {
    return {
      heading: 'Kafka',
      lines: [
        `bootstrap (in-cluster):  ${this.bootstrapServers}`,
        ...this.brokerAddresses.map((address, i) => `broker ${i} (in-cluster):  ${address}`),
        // The broker set's pods: dedicated controllers have no external listener.
        ...this.externalPorts.map(
          (port, i) =>
            `broker ${i} (port-forward): ${portForwardLine(port, this.namespace, `pod/${this.statefulSetName}-${i}`, KAFKA_PORTS.external)}`,
        ),
        ...this.tls.endpointLines(this.nodeSets.map((set) => `StatefulSet ${set.statefulSet}`), this.adminBootstrapServers),
      ],
    };
  }

  /** A headless Service, a StatefulSet and a PodDisruptionBudget for one set of nodes. */
  private nodeSet(set: NodeSet, config: KafkaConfig, clusterDomain: string, extension: PodExtension | undefined): void {
    const { namespace } = this;
    const id = set.role === 'controller' ? 'Controller' : '';
    const hasBroker = set.role !== 'controller';
    const hasController = set.role !== 'broker';
    const { tls } = this;
    const secured = tls.enabled;
    const tlsVolumes = tls.nodeVolumes();
    new k8s.KubeService(this, `${id}Headless`, {
      metadata: { name: set.headlessService, namespace, labels: set.labels },
      spec: {
        clusterIp: 'None',
        // Voters must resolve each other before any of them is ready, or the quorum never forms.
        publishNotReadyAddresses: true,
        selector: set.selector,
        ports: [
          ...(hasBroker ? [{ name: 'internal', port: KAFKA_PORTS.internal, targetPort: IntOrString.fromString('internal') }] : []),
          ...(hasController ? [{ name: 'controller', port: KAFKA_PORTS.controller, targetPort: IntOrString.fromString('controller') }] : []),
          ...(hasBroker && secured ? [{ name: 'inter-broker', port: KAFKA_PORTS.interBroker, targetPort: IntOrString.fromString('inter-broker') }] : []),
        ],
      },
    });

    const writable = writableVolumes([
      // KafkaDockerWrapper writes the final server.properties and log4j2 files here, and the
      // launcher refuses to start when it is not writable.
      { name: 'config', mountPath: '/opt/kafka/config', sizeLimit: '16Mi' },
      { name: 'logs', mountPath: '/opt/kafka/logs', sizeLimit: '1Gi' },
      // JVM hsperfdata, and compression codecs unpack their native libraries into java.io.tmpdir.
      { name: 'tmp', mountPath: '/tmp', sizeLimit: '256Mi' },
      // The readiness sidecar's newest JMX sample, which the readiness probe reads.
      { name: 'readiness', mountPath: READINESS_DIR, sizeLimit: '1Mi' },
      ...tlsVolumes.writablePaths,
      ...(extension?.writablePaths ?? []),
    ]);
    const heapMiB = Math.floor((mebibytes(set.resources.limits.memory) * config.heapPercent) / 100);
    const roles = { combined: 'broker,controller', broker: 'broker', controller: 'controller' }[set.role];
    // Listener -> security protocol. Secured: clients authenticate with SCRAM over TLS; brokers and voters
    // (and the admin Jobs) with TLS client certificates, which need no credential in the metadata log before
    // the quorum forms (the image's launcher formats storage without --add-scram).
    const listenerProtocols: { name: string; port: number; protocol: string; here: boolean }[] = [
      { name: 'INTERNAL', port: KAFKA_PORTS.internal, protocol: secured ? 'SASL_SSL' : 'PLAINTEXT', here: hasBroker },
      // In the map of brokers too: they connect to the voters' listener.
      { name: 'CONTROLLER', port: KAFKA_PORTS.controller, protocol: secured ? 'SSL' : 'PLAINTEXT', here: hasController },
      { name: 'EXTERNAL', port: KAFKA_PORTS.external, protocol: secured ? 'SASL_SSL' : 'PLAINTEXT', here: hasBroker },
      ...(secured ? [{ name: 'INTERBROKER', port: KAFKA_PORTS.interBroker, protocol: 'SSL', here: hasBroker }] : []),
    ];
    const protocols = listenerProtocols.filter((listener) => listener.here || listener.name === 'CONTROLLER');
    // The port-forward listener binds the pod's loopback only: `kubectl port-forward` dials localhost inside the
    // pod's network namespace (containerd's CRI, sandbox_portforward_linux.go: net.Dial of tcp4 "localhost:<port>"
    // in the sandbox's netns; CRI-O does the same), and no other pod, nor the node, reaches it, whatever the CNI enforces.
    const listeners = listenerProtocols.filter((listener) => listener.here).map(({ name, port }) => `${name}://${name === 'EXTERNAL' ? '127.0.0.1' : ''}:${port}`);
    const securityEnv: k8s.EnvVar[] = secured
      ? [
          ...tls.nodeEnv(),
          // Only certificates of the install's CA are admitted to the listeners of brokers and voters.
          ...(hasController ? [{ name: 'KAFKA_LISTENER_NAME_CONTROLLER_SSL_CLIENT_AUTH', value: 'required' }] : []),
          ...(hasBroker
            ? [
                { name: 'KAFKA_LISTENER_NAME_INTERBROKER_SSL_CLIENT_AUTH', value: 'required' },
                // A SASL listener needs a JAAS entry per mechanism even when the broker is not a client of it;
                // SCRAM's server side takes no option (credentials are in the metadata log). "___" becomes "-"
                // in KafkaDockerWrapper's env-to-property mapping.
                ...['INTERNAL', 'EXTERNAL'].map((name) => ({
                  name: `KAFKA_LISTENER_NAME_${name}_SCRAM___SHA___512_SASL_JAAS_CONFIG`,
                  value: 'org.apache.kafka.common.security.scram.ScramLoginModule required;',
                })),
              ]
            : []),
        ]
      : [];
    const brokerEnv: k8s.EnvVar[] = hasBroker
      ? [
          { name: 'KAFKA_INTER_BROKER_LISTENER_NAME', value: secured ? 'INTERBROKER' : 'INTERNAL' },
          // Env-configured images get none of server.properties' defaults: every replication
          // factor is explicit, and a single broker must not ask for 3 copies of internal topics.
          { name: 'KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR', value: String(config.defaultReplicationFactor) },
          { name: 'KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR', value: String(config.defaultReplicationFactor) },
          { name: 'KAFKA_TRANSACTION_STATE_LOG_MIN_ISR', value: String(config.minInsyncReplicas) },
          { name: 'KAFKA_SHARE_COORDINATOR_STATE_TOPIC_REPLICATION_FACTOR', value: String(config.defaultReplicationFactor) },
          { name: 'KAFKA_SHARE_COORDINATOR_STATE_TOPIC_MIN_ISR', value: String(config.minInsyncReplicas) },
          { name: 'KAFKA_DEFAULT_REPLICATION_FACTOR', value: String(config.defaultReplicationFactor) },
          { name: 'KAFKA_MIN_INSYNC_REPLICAS', value: String(config.minInsyncReplicas) },
          // Topics are owned by the topics Job; a typo in a producer must not create one.
          { name: 'KAFKA_AUTO_CREATE_TOPICS_ENABLE', value: 'false' },
        ]
      : [];
    // The pod's own name on its headless Service, as bash expands it in the container.
    // biome-ignore lint/suspicious/noTemplateCurlyInString: ${POD_NAME} and ${POD_NAMESPACE} are for bash, not JavaScript.
    const podHost = `\${POD_NAME}.${serviceHost(set.headlessService, '${POD_NAMESPACE}', clusterDomain)}`;
    const script = [
      // A volume that holds another cluster's data (a reused claim, a restored snapshot) is refused with
      // the reason; Kafka itself would stop with "Invalid cluster.id in ...meta.properties" only later.
      'meta="$KAFKA_LOG_DIRS/meta.properties"',
      'if [[ -f $meta ]]; then',
      "  found=$(sed -n 's/^cluster.id=//p' \"$meta\")",
      '  if [[ -n $found && $found != "$CLUSTER_ID" ]]; then',
      '    echo "refusing to start: the volume at $KAFKA_LOG_DIRS holds the data of another Kafka cluster (cluster.id $found), this install is cluster $CLUSTER_ID." >&2',
      '    echo "Either this claim belongs to another install (delete the claim to start empty), or kafka.clusterId must be set to $found in the config." >&2',
      '    exit 1',
      '  fi',
      'fi',
      ...(set.nodeIdBase === 0 ? [] : [`export KAFKA_NODE_ID=$((${set.nodeIdBase} + POD_INDEX))`]),
      ...tls.nodeScript(),
      // The only value env cannot express: each broker's own port-forward port (base + ordinal). A
      // controller must not set advertised listeners with the stock launcher (it exits).
      ...(hasBroker
        ? [
            `export KAFKA_ADVERTISED_LISTENERS="INTERNAL://${podHost}:${KAFKA_PORTS.internal},` +
              (secured ? `INTERBROKER://${podHost}:${KAFKA_PORTS.interBroker},` : '') +
            `EXTERNAL://localhost:$((${config.externalPortBase} + POD_INDEX))"`,
          ]
        : []),
      `exec ${IMAGE_LAUNCHER}`,
    ].join('\n');
    const env: k8s.EnvVar[] = [
      { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
      { name: 'POD_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
      // Kubernetes 1.28+ labels StatefulSet pods with their ordinal.
      { name: 'POD_INDEX', valueFrom: { fieldRef: { fieldPath: POD_INDEX_FIELD } } },
      ...(set.nodeIdBase === 0 ? [{ name: 'KAFKA_NODE_ID', valueFrom: { fieldRef: { fieldPath: POD_INDEX_FIELD } } }] : []),
      { name: 'CLUSTER_ID', value: config.clusterId },
      { name: 'KAFKA_PROCESS_ROLES', value: roles },
      { name: 'KAFKA_LISTENERS', value: listeners.join(',') },
      { name: 'KAFKA_LISTENER_SECURITY_PROTOCOL_MAP', value: protocols.map(({ name, protocol }) => `${name}:${protocol}`).join(',') },
      { name: 'KAFKA_CONTROLLER_LISTENER_NAMES', value: 'CONTROLLER' },
      { name: 'KAFKA_CONTROLLER_QUORUM_VOTERS', value: this.quorumVoters },
      { name: 'KAFKA_LOG_DIRS', value: LOG_DIRS },
      ...brokerEnv,
      ...securityEnv,
      // Heap is a fixed share of the limit; the rest is page cache, metaspace and buffers.
      { name: 'KAFKA_HEAP_OPTS', value: `-Xmx${heapMiB}m -Xms${heapMiB}m` },
      // JMX for the readiness sidecar, on the pod's loopback only (no Service, no NetworkPolicy rule: other
      // pods cannot reach it), replacing kafka-run-class.sh's default of every interface.
      { name: 'KAFKA_JMX_OPTS', value: jmxServerOptions() },
      { name: 'LOG_DIR', value: '/opt/kafka/logs' },
      // kafka-server-start.sh defaults to '-name kafkaServer -loggc', whose 10 x 100 MB GC log would outgrow
      // the logs emptyDir and get the pod evicted; GC events still go to the console log. The extension's
      // JVM options follow: kafka-run-class.sh ends its own option loop at the first word it does not know
      // (`*) break`) and passes the rest to java before the main class (`$KAFKA_OPTS "$@"`), so they reach
      // the server's JVM only. KAFKA_OPTS would reach every JVM of the image's launcher, the
      // KafkaDockerWrapper that formats the storage too (an agent there doubles its start-up).
      { name: 'EXTRA_ARGS', value: ['-name kafkaServer', ...(extension?.serverJvmOptions ?? [])].join(' ') },
      { name: 'READINESS_DIR', value: READINESS_DIR },
      { name: 'READINESS_MAX_AGE_MS', value: String(3 * READINESS_INTERVAL_MS) },
      ...(extension?.env ?? []),
    ];
    const probePort = hasBroker ? 'internal' : 'controller';

    new DataStatefulSet(this, `${id}Resource`, {
      metadata: {
        name: set.statefulSet,
        namespace,
        labels: set.labels,
        // What the verifier's kafka-listeners-authenticated reports instead of failing a production dist/.
        ...(config.security.insecurePlaintextInProduction && !secured ? { annotations: { [KAFKA_INSECURE_ANNOTATION]: 'true' } } : {}),
      },
      spec: {
        serviceName: set.headlessService,
        replicas: set.replicas,
        // OrderedReady would wait for pod 0 to be ready, which needs a quorum of voters: deadlock. For brokers
        // apart from the voters too: OrderedReady re-creates a missing pod only once every lower ordinal is
        // Ready, and the leaders of partitions that had a replica on it are not Ready by design (README).
        podManagementPolicy: 'Parallel',
        // Ready already means caught up (readiness-check.sh); the pause is a margin for what the
        // probe cannot see (a client's metadata refresh) before the next pod rolls.
        minReadySeconds: 10,
        // One pod at a time, highest ordinal first, each once the pods above it are available; under Parallel
        // the controller looks at no pod below (stateful_set_control.go), so a restarted broker is Ready only
        // once its replica fetchers have caught up (readiness-check.sh).
        updateStrategy: { type: 'RollingUpdate' },
        persistentVolumeClaimRetentionPolicy: { whenDeleted: 'Retain', whenScaled: 'Retain' },
        selector: { matchLabels: set.selector },
        template: {
          metadata: { labels: set.labels },
          spec: {
            // A Service named kafka would inject KAFKA_PORT & co., which the image turns into properties.
            enableServiceLinks: false,
            automountServiceAccountToken: false,
            securityContext: restrictedPodSecurityContext({ uid: KAFKA_UID, gid: KAFKA_UID }),
            // Controlled shutdown moves partition leadership away before the process exits.
            terminationGracePeriodSeconds: 120,
            affinity: { podAntiAffinity: antiAffinity(config.antiAffinity, set.selector) },
            topologySpreadConstraints: [
              {
                maxSkew: 1,
                topologyKey: 'topology.kubernetes.io/zone',
                whenUnsatisfiable: 'ScheduleAnyway',
                labelSelector: { matchLabels: set.selector },
              },
            ],
            ...(extension ? { initContainers: [...extension.initContainers] } : {}),
            containers: [
              {
                name: 'kafka',
                image: config.image,
                imagePullPolicy: 'IfNotPresent',
                command: ['/bin/bash', '-ec'],
                args: [script],
                env,
                ports: [
                  ...(hasBroker ? [{ name: 'internal', containerPort: KAFKA_PORTS.internal }] : []),
                  ...(hasController ? [{ name: 'controller', containerPort: KAFKA_PORTS.controller }] : []),
                  ...(hasBroker ? [{ name: 'external', containerPort: KAFKA_PORTS.external }] : []),
                  ...(hasBroker && secured ? [{ name: 'inter-broker', containerPort: KAFKA_PORTS.interBroker }] : []),
                  ...(extension?.ports ?? []),
                ],
                resources: resourceRequirements(set.resources, writable),
                securityContext: restrictedContainerSecurityContext(),
                // Log recovery after an unclean stop can take minutes; the startup probe covers it (10 min)
                // so that liveness does not kill a broker that is still recovering. The kubelet runs no readiness
                // probe before it has passed, and a broker opens its port only once it is RUNNING: its period is
                // added, up to whole, to every restart before the pod can be Ready, so it is the readiness period.
                startupProbe: tcpProbe(probePort, { periodSeconds: READINESS_INTERVAL_MS / 1000, failureThreshold: 600 / (READINESS_INTERVAL_MS / 1000) }),
                readinessProbe: {
                  exec: { command: ['/bin/bash', '-c', readProjectFile('lib/kafka/readiness-check.sh')] },
                  periodSeconds: READINESS_INTERVAL_MS / 1000,
                  timeoutSeconds: 5,
                  failureThreshold: 2,
                },
                livenessProbe: tcpProbe(hasController ? 'controller' : 'internal', { periodSeconds: 20, failureThreshold: 6 }),
                volumeMounts: [{ name: 'data', mountPath: DATA_MOUNT }, ...writable.mounts, ...tlsVolumes.mounts, ...(extension?.volumeMounts ?? [])],
              },
              readinessSidecar(config.image, set.role),
              ...tls.reloadSidecars({
                image: config.image,
                nodeIdBase: set.nodeIdBase,
                // The node's own certificate listener, by its pod name ($(VAR): the kubelet expands it).
                bootstrap: hasBroker
                  ? `--bootstrap-server $(POD_NAME).${serviceHost(set.headlessService, '$(POD_NAMESPACE)', clusterDomain)}:${KAFKA_PORTS.interBroker}`
                  : `--bootstrap-controller $(POD_NAME).${serviceHost(set.headlessService, '$(POD_NAMESPACE)', clusterDomain)}:${KAFKA_PORTS.controller}`,
                listeners: listenerProtocols.filter((listener) => listener.here && listener.protocol.endsWith('SSL')).map((listener) => listener.name),
              }),
            ],
            volumes: [...writable.volumes, ...tlsVolumes.volumes, ...(extension?.volumes ?? [])],
          },
        },
        volumeClaimTemplates: [dataVolumeClaimTemplate(set.labels, set.storage)],
      },
    });

    new k8s.KubePodDisruptionBudget(this, `${id}Budget`, {
      metadata: { name: set.statefulSet, namespace, labels: set.labels },
      spec: {
        // One pod down at a time keeps a 3-voter quorum and, with min.insync.replicas 2 of 3, acks=all
        // writes; a pod counts as healthy only when Ready, which means caught up.
        maxUnavailable: IntOrString.fromNumber(1),
        selector: { matchLabels: set.selector },
        // Not AlwaysAllow: a broker is not Ready while a peer catches up, and AlwaysAllow would let a drain
        // evict such a pod regardless of the budget. A crash-looping pod blocks a drain until it is deleted
        // by hand (README, "Kafka operations").
        unhealthyPodEvictionPolicy: 'IfHealthyBudget',
      },
    });
  }
}

const POD_INDEX_FIELD = "metadata.labels['apps.kubernetes.io/pod-index']";

/** The JVM's JMX connector on 127.0.0.1 only, without authentication: only the pod's own processes reach it. */
function jmxServerOptions(): string {
  return [
    '-Dcom.sun.management.jmxremote=true',
    `-Dcom.sun.management.jmxremote.port=${KAFKA_PORTS.jmx}`,
    `-Dcom.sun.management.jmxremote.rmi.port=${KAFKA_PORTS.jmx}`,
    // JDK 9+: bind the connector to this address (JDK-6425769), and hand out stubs for it.
    '-Dcom.sun.management.jmxremote.host=127.0.0.1',
    '-Djava.rmi.server.hostname=127.0.0.1',
    '-Dcom.sun.management.jmxremote.authenticate=false',
    '-Dcom.sun.management.jmxremote.ssl=false',
  ].join(' ');
}

/**
 * The readiness sidecar (readiness-watch.sh): one small JVM of the same image for the pod's lifetime,
 * sampling the node's JMX into a file the readiness probe reads.
 */
function readinessSidecar(image: string, role: NodeRole): k8s.Container {
  const brokerObjects = [
    'kafka.server:type=KafkaServer,name=BrokerState',
    'kafka.server:type=ReplicaManager,name=UnderReplicatedPartitions',
    // The largest lag of this broker's replica fetchers behind their leaders' high watermark, in messages
    // (AbstractFetcherManager's MaxLag gauge of the ReplicaFetcherManager, client id Replica).
    'kafka.server:type=ReplicaFetcherManager,name=MaxLag,clientId=Replica',
  ];
  const controllerObjects = ['kafka.server:type=raft-metrics'];
  const objects = [...(role !== 'controller' ? brokerObjects : []), ...(role !== 'broker' ? controllerObjects : [])];
  const columns = [
    ...(role !== 'controller' ? brokerObjects.map((o) => `${o}:Value`) : []),
    ...(role !== 'broker' ? ['kafka.server:type=raft-metrics:current-state', 'kafka.server:type=raft-metrics:current-leader'] : []),
  ];
  const writable = writableVolumes([]);
  return {
    name: 'readiness',
    image,
    imagePullPolicy: 'IfNotPresent',
    command: ['/bin/bash', '-c', readProjectFile('lib/kafka/readiness-watch.sh')],
    env: [
      { name: 'JMX_URL', value: `service:jmx:rmi:///jndi/rmi://127.0.0.1:${KAFKA_PORTS.jmx}/jmxrmi` },
      // Property patterns (',*'): JmxTool then expects of each object only the attributes it has.
      { name: 'READINESS_OBJECTS', value: objects.map((o) => `${o},*`).join('\n') },
      { name: 'READINESS_ATTRIBUTES', value: 'Value,current-state,current-leader' },
      { name: 'READINESS_COLUMNS', value: columns.join('\n') },
      { name: 'READINESS_INTERVAL_MS', value: String(READINESS_INTERVAL_MS) },
      { name: 'READINESS_DIR', value: READINESS_DIR },
      // kafka-run-class.sh creates LOG_DIR; the tool logs to stderr only.
      { name: 'LOG_DIR', value: READINESS_DIR },
      // A small client JVM: no JIT beyond C1, serial GC, no perf data file (read-only root filesystem).
      { name: 'KAFKA_HEAP_OPTS', value: '-Xmx24m -Xms24m' },
      { name: 'KAFKA_JVM_PERFORMANCE_OPTS', value: '-XX:+UseSerialGC -XX:TieredStopAtLevel=1 -XX:-UsePerfData -Xss512k -Djava.awt.headless=true' },
    ],
    resources: resourceRequirements(
      { requests: { cpu: '10m', memory: '128Mi' }, limits: { cpu: '200m', memory: '128Mi' } },
      writable,
    ),
    securityContext: restrictedContainerSecurityContext(),
    // Ready once it holds a sample (whether the node is Ready is the Kafka container's probe); alive while
    // its loop goes round, which it does at least every ~12 s even when the node's JMX does not answer.
    readinessProbe: {
      exec: { command: ['/bin/bash', '-c', '[[ -s $READINESS_DIR/sample ]]'] },
      periodSeconds: READINESS_INTERVAL_MS / 1000,
      timeoutSeconds: 5,
    },
    livenessProbe: {
      // biome-ignore lint/suspicious/noTemplateCurlyInString: bash parameter expansions.
      exec: { command: ['/bin/bash', '-c', 'read -r beat <"$READINESS_DIR/alive" && ((${EPOCHREALTIME%.*} - ${beat%.*} < 60))'] },
      // The JVM's first start, on a throttled CPU, takes a while before the loop goes round again.
      initialDelaySeconds: 30,
      periodSeconds: 20,
      timeoutSeconds: 5,
      failureThreshold: 3,
    },
    volumeMounts: [{ name: 'readiness', mountPath: READINESS_DIR }],
  };
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

