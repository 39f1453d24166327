import { Construct } from 'constructs';
import { appLabels } from '../platform/labels';
import { allowIngress, denyAllIngress } from '../platform/network-policy';
import { KAFKA_PORTS, type KafkaCluster } from './kafka-cluster';
import type { TopicsJob } from './topics-job';

export interface KafkaNetworkPoliciesProps {
  readonly cluster: KafkaCluster;
  readonly topicsJob: TopicsJob;
  /** Namespaces whose pods (the LearnFlow services and their Dapr sidecars) may produce and consume. */
  readonly clientNamespaces: readonly string[];
}

/**
 * Default-deny ingress for the kafka namespace; the client port open to the configured namespaces and
 * the topics Job; the controller port of the KRaft voters only from the brokers and the voters. `kubectl port-forward` enters the pod's own
 * network namespace, so the external listener needs no rule.
 */
export class KafkaNetworkPolicies extends Construct {
  constructor(scope: Construct, id: string, props: KafkaNetworkPoliciesProps) {
    super(scope, id);
    const { cluster } = props;
    const labels = appLabels(cluster.statefulSetName, 'network-policy');
    denyAllIngress(this, cluster.namespace, labels);
    allowIngress(this, 'Clients', {
      name: `${cluster.statefulSetName}-clients`,
      namespace: cluster.namespace,
      labels,
      podSelector: cluster.podSelector,
      ports: [KAFKA_PORTS.internal],
      // Brokers replicate to each other on the internal listener too.
      from: { namespaces: props.clientNamespaces, podsWithLabels: [props.topicsJob.clientSelector, cluster.podSelector] },
    });
    allowIngress(this, 'Controllers', {
      name: `${cluster.statefulSetName}-controllers`,
      namespace: cluster.namespace,
      labels,
      podSelector: cluster.controllerSelector,
      ports: [KAFKA_PORTS.controller],
      // Brokers fetch the metadata log from the voters; voters replicate it among themselves.
      from: { podsWithLabels: [...new Map([cluster.podSelector, cluster.controllerSelector].map((s) => [JSON.stringify(s), s])).values()] },
    });
  }
}
