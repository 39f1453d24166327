import { Construct } from 'constructs';
import { appLabels } from '../platform/labels';
import { allowEgress, allowIngress, denyAllIngress } from '../platform/network-policy';
import type { PostgresServer } from './postgres-server';
import { POSTGRES_CLIENT_LABEL } from './script-job';

export interface PostgresNetworkPoliciesProps {
  readonly server: PostgresServer;
  /** Namespaces whose pods (the LearnFlow services and their Dapr sidecars) may connect. */
  readonly clientNamespaces: readonly string[];
  /** Labels of the backup pods: they may reach the server and DNS, nothing else (and nothing reaches them). @default - none */
  readonly backupPods?: readonly Record<string, string>[];
}

/**
 * Default-deny ingress for the postgres namespace; the server port open to the apps and the Jobs; the
 * backup pods' egress limited to the server and DNS.
 */
export class PostgresNetworkPolicies extends Construct {
  constructor(scope: Construct, id: string, props: PostgresNetworkPoliciesProps) {
    super(scope, id);
    const { server } = props;
    const labels = appLabels(server.statefulSetName, 'network-policy');
    denyAllIngress(this, server.namespace, labels);
    allowIngress(this, 'Clients', {
      name: `${server.statefulSetName}-clients`,
      namespace: server.namespace,
      labels,
      podSelector: server.podSelector,
      ports: [server.port],
      // The migrations and seed Jobs carry the client label.
      from: { namespaces: props.clientNamespaces, podsWithLabels: [{ [POSTGRES_CLIENT_LABEL]: 'true' }] },
    });
    for (const pods of props.backupPods ?? []) {
      const component = pods['app.kubernetes.io/component'];
      allowEgress(this, `Egress-${component}`, {
        name: `${server.statefulSetName}-${component}-egress`,
        namespace: server.namespace,
        labels,
        podSelector: { 'app.kubernetes.io/name': pods['app.kubernetes.io/name'], 'app.kubernetes.io/component': component },
        to: { podSelector: server.podSelector, ports: [server.port] },
      });
    }
  }
}
