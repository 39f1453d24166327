import { Construct } from 'constructs';
import { appLabels } from '../platform/labels';
import { allowDnsEgress, allowEgress, allowIngress, daprAppPods, denyAll } from '../platform/network-policy';
import { KAFKA_PORTS, type KafkaCluster } from './kafka-cluster';
import type { TopicsJob } from './topics-job';

export interface KafkaNetworkPoliciesProps {
  readonly cluster: KafkaCluster;
  readonly topicsJob: TopicsJob;
  /** Namespaces whose Dapr-injected pods of these app-ids (the LearnFlow services and their sidecars) may produce and consume. */
  readonly clientNamespaces: readonly string[];
  readonly appIds: readonly string[];
}

/**
 * Default-deny ingress and egress for the kafka namespace. The client port is open to the services'
 * Dapr-injected pods, the Jobs running Kafka's tools (topics, rebalance and features: KAFKA_CLIENT_JOB_LABELS) and the other brokers (replication); the controller port of the KRaft
 * voters only to the brokers (they fetch the metadata log) and the voters (they replicate it); the brokers,
 * the voters and the Job may reach exactly those ports, and every pod the cluster DNS.
 *
 * The external listener (the port-forward one) gets no rule, so no pod reaches it: `kubectl port-forward`
 * does not cross the pod network at all. The kubelet asks the container runtime to connect to the port from
 * inside the pod's own network namespace (CRI PortForward; containerd dials localhost there), where
 * NetworkPolicies do not apply. Binding the listener to 127.0.0.1 in the pod would say the same in Kafka's
 * config; the policies keep it without changing the broker's listeners.
 */
export class KafkaNetworkPolicies extends Construct {
  constructor(scope: Construct, id: string, props: KafkaNetworkPoliciesProps) {
    super(scope, id);
    const { cluster } = props;
    const labels = appLabels(cluster.statefulSetName, 'network-policy');
    const namespace = cluster.namespace;
    const brokers = { labels: cluster.podSelector };
    const topicsJob = { labels: props.topicsJob.clientSelector };
    // One node set when every broker is a voter (minikube), two with dedicated controllers.
    const dedicated = cluster.controllerSelector !== cluster.podSelector;
    const quorum = dedicated ? [brokers, { labels: cluster.controllerSelector }] : [brokers];
    // With kafka.security the brokers replicate, and the admin Jobs connect, on the interBroker listener
    // (certificates only), so the client port admits the services alone.
    const secured = cluster.tls.enabled;
    const adminPort = secured ? KAFKA_PORTS.interBroker : KAFKA_PORTS.internal;
    denyAll(this, namespace, labels);
    allowDnsEgress(this, namespace, labels);
    allowIngress(this, 'Clients', {
      name: `${cluster.statefulSetName}-clients`,
      namespace,
      labels,
      podSelector: cluster.podSelector,
      ports: [KAFKA_PORTS.internal],
      // Unsecured, brokers replicate to each other on the internal listener too.
      peers: [...props.clientNamespaces.map((client) => daprAppPods(client, props.appIds)), ...(secured ? [] : [topicsJob, brokers])],
    });
    if (secured) {
      allowIngress(this, 'InterBroker', {
        name: `${cluster.statefulSetName}-inter-broker`,
        namespace,
        labels,
        podSelector: cluster.podSelector,
        ports: [KAFKA_PORTS.interBroker],
        peers: [topicsJob, brokers],
      });
    }
    allowIngress(this, 'Controllers', {
      name: `${cluster.statefulSetName}-controllers`,
      namespace,
      labels,
      podSelector: cluster.controllerSelector,
      ports: [KAFKA_PORTS.controller],
      peers: quorum,
    });
    allowEgress(this, 'Brokers', {
      name: `${cluster.statefulSetName}-brokers-to-brokers`,
      namespace,
      labels,
      podSelector: cluster.podSelector,
      ports: dedicated ? [adminPort] : [adminPort, KAFKA_PORTS.controller],
      peers: [brokers],
    });
    if (dedicated) {
      for (const [index, from] of quorum.entries()) {
        allowEgress(this, `Quorum${index}`, {
          name: `${from === brokers ? cluster.statefulSetName : cluster.controllerStatefulSetName}-to-controllers`,
          namespace,
          labels,
          podSelector: from.labels,
          ports: [KAFKA_PORTS.controller],
          peers: [quorum[1]],
        });
      }
    }
    allowEgress(this, 'TopicsJob', {
      name: `${cluster.statefulSetName}-topics-job-to-brokers`,
      namespace,
      labels,
      podSelector: props.topicsJob.clientSelector,
      ports: [adminPort],
      peers: [brokers],
    });
  }
}
