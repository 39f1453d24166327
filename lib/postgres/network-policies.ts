import { Construct } from 'constructs';
import { appLabels } from '../platform/labels';
import { allowDnsEgress, allowEgress, allowIngress, daprAppPods, denyAll } from '../platform/network-policy';
import type { PostgresServer } from './postgres-server';
import { POSTGRES_CLIENT_LABEL } from './script-job';

export interface PostgresNetworkPoliciesProps {
  readonly server: PostgresServer;
  /** The apps namespace: its Dapr-injected pods of these app-ids (the services and their sidecars) may connect. */
  readonly appsNamespace: string;
  readonly appIds: readonly string[];
}

/**
 * Default-deny ingress and egress for the postgres namespace. The server port is open to the LearnFlow
 * services' Dapr-injected pods and to the Jobs that carry the client label (migrations, seed, and the base
 * backup and dump CronJobs' pods); the Jobs may reach the server, and every pod the cluster DNS. The server
 * itself connects nowhere (its archive_command copies to a mounted volume, not over the network).
 */
export class PostgresNetworkPolicies extends Construct {
  constructor(scope: Construct, id: string, props: PostgresNetworkPoliciesProps) {
    super(scope, id);
    const { server } = props;
    const labels = appLabels(server.statefulSetName, 'network-policy');
    const namespace = server.namespace;
    const jobs = { labels: { [POSTGRES_CLIENT_LABEL]: 'true' } };
    denyAll(this, namespace, labels);
    allowDnsEgress(this, namespace, labels);
    allowIngress(this, 'Clients', {
      name: `${server.statefulSetName}-clients`,
      namespace,
      labels,
      podSelector: server.podSelector,
      ports: [server.port],
      peers: [daprAppPods(props.appsNamespace, props.appIds), jobs],
    });
    allowEgress(this, 'Jobs', {
      name: `${server.statefulSetName}-jobs-to-server`,
      namespace,
      labels,
      podSelector: jobs.labels,
      ports: [server.port],
      peers: [{ labels: server.podSelector }],
    });
  }
}
