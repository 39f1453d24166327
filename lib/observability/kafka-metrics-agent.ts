import { Construct } from 'constructs';
import type { KafkaConfig, ObservabilityConfig } from '../config/schema';
import * as k8s from '../platform/k8s';
import { appLabels } from '../platform/labels';
import type { PodExtension } from '../platform/pod-extension';
import { resourceRequirements, restrictedContainerSecurityContext, writableVolumes } from '../platform/pod-security';
import { readProjectFile } from '../platform/project-files';

/** Where the init container leaves the agent jar, and where the broker's JVM loads it from. */
export const AGENT_DIR = '/opt/otel-agent';
export const AGENT_JAR = `${AGENT_DIR}/javaagent.jar`;
// The file the OpenTelemetry operator's autoinstrumentation-java image holds (its Dockerfile copies the
// release jar to /javaagent.jar, world-readable, on busybox so that `cp` exists).
const IMAGE_AGENT_JAR = '/javaagent.jar';
const RULES_DIR = '/etc/learnflow/jmx-metrics';
export const JMX_RULES_FILE = 'kafka-jmx-metrics.yaml';

export interface KafkaMetricsAgentProps {
  readonly kafka: KafkaConfig;
  readonly namespace: string;
  readonly observability: ObservabilityConfig;
}

/**
 * The OpenTelemetry Java agent inside every Kafka JVM, exporting broker, controller and JVM metrics in
 * Prometheus format on `port`, with no image of our own: an init container copies the agent out of the
 * OpenTelemetry operator's stock image into an emptyDir, and the server's JVM options load it (KafkaCluster
 * puts them in kafka-server-start.sh's EXTRA_ARGS: the broker or controller JVM, not the image's set-up JVM). Every bytecode
 * instrumentation is off: the agent only reads the JMX MBeans of our rules file and the JVM's own metrics.
 */
export class KafkaMetricsAgent extends Construct {
  public readonly podExtension: PodExtension;
  public readonly port: number;
  public readonly portName = 'metrics';
  public readonly rulesConfigMapName: string;

  constructor(scope: Construct, id: string, props: KafkaMetricsAgentProps) {
    super(scope, id);
    const { kafkaAgent } = props.observability;
    this.port = kafkaAgent.port;
    this.rulesConfigMapName = `${props.kafka.name}-jmx-metrics`;
    new k8s.KubeConfigMap(this, 'Rules', {
      metadata: { name: this.rulesConfigMapName, namespace: props.namespace, labels: appLabels(props.kafka.name, 'metrics') },
      data: { [JMX_RULES_FILE]: readProjectFile(`lib/observability/${JMX_RULES_FILE}`) },
    });
    const agentVolume = { name: 'otel-agent', mountPath: AGENT_DIR, sizeLimit: '64Mi' };
    this.podExtension = {
      initContainers: [
        {
          name: 'otel-agent',
          image: kafkaAgent.image,
          imagePullPolicy: 'IfNotPresent',
          command: ['cp', IMAGE_AGENT_JAR, AGENT_JAR],
          securityContext: restrictedContainerSecurityContext(),
          resources: resourceRequirements(
            { requests: { cpu: '10m', memory: '16Mi' }, limits: { cpu: '100m', memory: '32Mi' } },
            writableVolumes([]),
          ),
          volumeMounts: [{ name: agentVolume.name, mountPath: AGENT_DIR }],
        },
      ],
      env: [
        { name: 'OTEL_SERVICE_NAME', value: props.kafka.name },
        { name: 'OTEL_METRICS_EXPORTER', value: 'prometheus' },
        { name: 'OTEL_EXPORTER_PROMETHEUS_PORT', value: String(kafkaAgent.port) },
        // The pod's IP rather than every interface: the exporter is reached there, and not on localhost.
        { name: 'OTEL_EXPORTER_PROMETHEUS_HOST', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } },
        { name: 'OTEL_TRACES_EXPORTER', value: 'none' },
        { name: 'OTEL_LOGS_EXPORTER', value: 'none' },
        // Metrics only: no bytecode instrumentation of the broker's classes (its cost is what the bench measures).
        { name: 'OTEL_INSTRUMENTATION_COMMON_DEFAULT_ENABLED', value: 'false' },
        { name: 'OTEL_INSTRUMENTATION_RUNTIME_TELEMETRY_ENABLED', value: 'true' },
        { name: 'OTEL_JMX_CONFIG', value: `${RULES_DIR}/${JMX_RULES_FILE}` },
        // The MBeans are looked up this long after start (ms): Kafka registers most of them while it starts.
        { name: 'OTEL_JMX_DISCOVERY_DELAY', value: '5000' },
      ],
      serverJvmOptions: [`-javaagent:${AGENT_JAR}`],
      ports: [{ name: this.portName, containerPort: kafkaAgent.port }],
      writablePaths: [agentVolume],
      volumes: [{ name: 'jmx-metrics', configMap: { name: this.rulesConfigMapName } }],
      volumeMounts: [{ name: 'jmx-metrics', mountPath: RULES_DIR, readOnly: true }],
    };
  }
}
