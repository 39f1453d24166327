import { type K8sObject, readDistDir } from '../../support/synth';

/** What the harness needs from a synthesized dist/ directory. */
export interface KafkaManifests {
  /** The brokers' StatefulSet (combined brokers and voters when there is no controller StatefulSet). */
  readonly statefulSet: K8sObject;
  /** The dedicated KRaft voters' StatefulSet, when dist/ has one. */
  readonly controllerStatefulSet?: K8sObject;
  /** Services in the StatefulSets' namespace whose selector matches the brokers' pods. */
  readonly services: readonly K8sObject[];
  /** Every Service in the StatefulSets' namespace (the kubelet's service links come from all of them). */
  readonly namespaceServices: readonly K8sObject[];
  readonly topicsJob: K8sObject;
  /** The rebalance Job (`<name>-rebalance-<hash>`), when dist/ has one. */
  readonly rebalanceJob?: K8sObject;
  /** The features Job (`<name>-features-<hash>`), when dist/ has one. */
  readonly featuresJob?: K8sObject;
  /** The users Job (`<name>-users-<hash>`, kafka.security), when dist/ has one. */
  readonly usersJob?: K8sObject;
  /** The PodDisruptionBudgets in the StatefulSets' namespace. */
  readonly budgets: readonly K8sObject[];
  readonly configMaps: readonly K8sObject[];
  /** The Kafka version of the StatefulSet's `apache/kafka:<version>` image. */
  readonly kafkaVersion: string;
}

export function selects(selector: Record<string, string> | undefined, labels: Record<string, string>): boolean {
  return selector !== undefined && Object.entries(selector).every(([key, value]) => labels[key] === value);
}

/** The Kafka version of a pinned official `apache/kafka:<version>` image reference (the harness runs that release's jars). */
export function imageKafkaVersion(image: string): string {
  const match = /^(?:docker\.io\/)?apache\/kafka:([0-9][^@]*)(?:@sha256:[0-9a-f]{64})?$/.exec(image);
  if (!match) throw new Error(`the Kafka image ${image} is not a pinned official apache/kafka:<version> tag`);
  return match[1];
}

export function loadKafkaManifests(distDir: string, statefulSetName = 'kafka'): KafkaManifests {
  const objects = readDistDir(distDir);
  const statefulSet = objects.find((o) => o.kind === 'StatefulSet' && o.metadata.name === statefulSetName);
  if (!statefulSet) throw new Error(`no StatefulSet named ${statefulSetName} in ${distDir}`);
  const controllerStatefulSet = objects.find((o) => o.kind === 'StatefulSet' && o.metadata.name === `${statefulSetName}-controller`);
  const namespace = statefulSet.metadata.namespace ?? 'default';
  const podLabels: Record<string, string> = statefulSet.spec.template.metadata?.labels ?? {};
  const namespaceServices = objects.filter((o) => o.kind === 'Service' && (o.metadata.namespace ?? 'default') === namespace);
  const services = namespaceServices.filter((o) => selects(o.spec?.selector, podLabels));
  const topicsJob = objects.find((o) => o.kind === 'Job' && o.metadata.name.startsWith(`${statefulSetName}-topics-`));
  if (!topicsJob) throw new Error(`no Job named ${statefulSetName}-topics-* in ${distDir}`);

  return {
    statefulSet,
    controllerStatefulSet,
    services,
    namespaceServices,
    topicsJob,
    rebalanceJob: objects.find((o) => o.kind === 'Job' && o.metadata.name.startsWith(`${statefulSetName}-rebalance-`)),
    budgets: objects.filter((o) => o.kind === 'PodDisruptionBudget' && (o.metadata.namespace ?? 'default') === namespace),
    configMaps: objects.filter((o) => o.kind === 'ConfigMap'),
    featuresJob: objects.find((o) => o.kind === 'Job' && o.metadata.name.startsWith(`${statefulSetName}-features-`)),
    usersJob: objects.find((o) => o.kind === 'Job' && o.metadata.name.startsWith(`${statefulSetName}-users-`)),
    kafkaVersion: imageKafkaVersion(statefulSet.spec.template.spec.containers[0].image),
  };
}
