import type { Dist } from './dist';
import type { DistObject, K8sObject } from './model';

/** A pod template found in dist/: the workload that owns it and the template itself. */
export interface PodTemplate {
  readonly owner: DistObject;
  readonly labels: Record<string, string>;
  readonly spec: Record<string, any>;
  /** Long-running pods (StatefulSet, Deployment, DaemonSet, ReplicaSet) as opposed to Jobs and bare Pods. */
  readonly longRunning: boolean;
}

export interface ContainerInTemplate {
  readonly template: PodTemplate;
  readonly container: Record<string, any>;
  readonly init: boolean;
  /** e.g. `containers[0] (kafka)`, to point at the container in a message. */
  readonly where: string;
}

const LONG_RUNNING_KINDS = new Set(['StatefulSet', 'Deployment', 'DaemonSet', 'ReplicaSet']);

export function podTemplates(dist: Dist): PodTemplate[] {
  const templates: PodTemplate[] = [];
  for (const item of dist.objects) {
    const { object } = item;
    const template = podTemplateOf(object);
    if (!template) continue;
    templates.push({
      owner: item,
      labels: template.metadata?.labels ?? {},
      spec: template.spec ?? {},
      longRunning: LONG_RUNNING_KINDS.has(object.kind),
    });
  }
  return templates;
}

function podTemplateOf(object: K8sObject): { metadata?: { labels?: Record<string, string> }; spec?: Record<string, any> } | undefined {
  if (object.kind === 'Pod') return object;
  if (object.kind === 'CronJob') return object.spec?.jobTemplate?.spec?.template;
  return object.spec?.template?.spec ? object.spec.template : undefined;
}

export function containersOf(template: PodTemplate): ContainerInTemplate[] {
  const list = (field: 'initContainers' | 'containers', init: boolean): ContainerInTemplate[] =>
    ((template.spec[field] ?? []) as Record<string, any>[]).map((container, index) => ({
      template,
      container,
      init,
      where: `${field}[${index}]${container?.name ? ` (${container.name})` : ''}`,
    }));
  return [...list('initContainers', true), ...list('containers', false)];
}

export function allContainers(dist: Dist): ContainerInTemplate[] {
  return podTemplates(dist).flatMap(containersOf);
}

/** The literal value of an env var of a container, if it is set with `value`. */
export function envValue(container: Record<string, any>, name: string): string | undefined {
  const entry = ((container.env ?? []) as { name?: string; value?: unknown }[]).find((e) => e?.name === name);
  return entry?.value === undefined ? undefined : String(entry.value);
}

/** Whether a label selector (matchLabels only, or a plain map for Services) selects the given labels. */
export function selects(selector: Record<string, any> | undefined, labels: Record<string, string>): boolean {
  if (!selector) return false;
  const matchLabels: Record<string, string> = selector.matchLabels ?? (selector.matchExpressions ? {} : selector);
  if (!Object.entries(matchLabels).every(([key, value]) => labels[key] === value)) return false;
  for (const expression of (selector.matchExpressions ?? []) as { key: string; operator: string; values?: string[] }[]) {
    const value = labels[expression.key];
    const values = expression.values ?? [];
    const holds =
      expression.operator === 'In'
        ? value !== undefined && values.includes(value)
        : expression.operator === 'NotIn'
          ? value === undefined || !values.includes(value)
          : expression.operator === 'Exists'
            ? value !== undefined
            : expression.operator === 'DoesNotExist'
              ? value === undefined
              : false;
    if (!holds) return false;
  }
  return true;
}

export function namespaceOf(item: DistObject): string {
  return item.object.metadata.namespace ?? 'default';
}

/**
 * An in-cluster host name as cluster DNS resolves it: `<names>[.svc[.<domain>]]`, where names are `<service>`,
 * `<service>.<namespace>`, or `<pod>.<service>.<namespace>` (a pod's own name through its StatefulSet's
 * governing Service). See https://kubernetes.io/docs/concepts/services-networking/dns-pod-service/.
 */
export interface ClusterHost {
  readonly names: readonly string[];
  /** Whether `.svc` follows the names. */
  readonly svc: boolean;
  /** What follows `.svc.` (the cluster domain), if anything. */
  readonly domain?: string;
}

/** Parses a host of one of the shapes of {@link ClusterHost}; undefined for any other shape (e.g. `a.b.example.com`). */
export function parseClusterHost(host: string): ClusterHost | undefined {
  const labels = host.split('.');
  if (!labels.every((label) => /^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/.test(label))) return undefined;
  const at = labels.indexOf('svc', 2);
  const names = at >= 0 ? labels.slice(0, at) : labels;
  if (names.length > 3) return undefined;
  return { names, svc: at >= 0, domain: at >= 0 && at < labels.length - 1 ? labels.slice(at + 1).join('.') : undefined };
}

/** The ordinal of `pod` when it names a pod of the StatefulSet: `<name>-<n>` with n below its replicas. */
export function statefulSetOrdinal(item: DistObject, pod: string): number | undefined {
  const prefix = `${item.object.metadata.name}-`;
  const ordinal = pod.startsWith(prefix) && /^(0|[1-9]\d*)$/.test(pod.slice(prefix.length)) ? Number(pod.slice(prefix.length)) : undefined;
  return ordinal !== undefined && ordinal < replicasOf(item) ? ordinal : undefined;
}

/**
 * The labels of a Namespace as declared in dist/, with the `kubernetes.io/metadata.name` label the API server
 * sets on every Namespace; undefined when dist/ does not declare it.
 */
export function namespaceLabels(dist: Dist, namespace: string): Record<string, string> | undefined {
  const item = objectsOfKind(dist, 'Namespace').find((candidate) => candidate.object.metadata.name === namespace);
  return item && { ...(item.object.metadata.labels ?? {}), 'kubernetes.io/metadata.name': namespace };
}

export function objectsOfKind(dist: Dist, kind: string): DistObject[] {
  return dist.objects.filter((item) => item.object.kind === kind);
}

/** Kafka brokers/controllers: StatefulSets whose containers configure KRaft through the image's env. */
export function kafkaStatefulSets(dist: Dist): DistObject[] {
  return objectsOfKind(dist, 'StatefulSet').filter((item) =>
    (item.object.spec?.template?.spec?.containers ?? []).some((container: Record<string, any>) => envValue(container, 'KAFKA_PROCESS_ROLES') !== undefined),
  );
}

/** KAFKA_PROCESS_ROLES of a Kafka StatefulSet: broker, controller or both. */
export function kafkaRoles(item: DistObject): string[] {
  return (envValue(kafkaContainer(item), 'KAFKA_PROCESS_ROLES') ?? '').split(',').map((role) => role.trim());
}

/** The Kafka StatefulSets that run brokers (not the dedicated controllers'). */
export function kafkaBrokerStatefulSets(dist: Dist): DistObject[] {
  return kafkaStatefulSets(dist).filter((item) => kafkaRoles(item).includes('broker'));
}

/** The container of a Kafka StatefulSet that runs the broker. */
export function kafkaContainer(item: DistObject): Record<string, any> {
  return (item.object.spec?.template?.spec?.containers ?? []).find((container: Record<string, any>) => envValue(container, 'KAFKA_PROCESS_ROLES') !== undefined);
}

/** PostgreSQL servers: StatefulSets running an image named postgres. */
export function postgresStatefulSets(dist: Dist): DistObject[] {
  return objectsOfKind(dist, 'StatefulSet').filter((item) =>
    (item.object.spec?.template?.spec?.containers ?? []).some((container: Record<string, any>) => isPostgresServer(container)),
  );
}

function isPostgresImage(image: unknown): boolean {
  return typeof image === 'string' && /(^|\/)postgres(:|@|$)/.test(image);
}

/**
 * A container that runs the PostgreSQL server: the postgres image with its own entrypoint (which starts
 * the server for the arguments `postgres ...`, or none). One that replaces the command with a script (the
 * server pod's tls-reload sidecar, a Job) only uses the image's client programs.
 */
export function isPostgresServer(container: Record<string, any> | undefined): boolean {
  return isPostgresImage(container?.image) && container?.command === undefined && [undefined, 'postgres'].includes(container?.args?.[0]);
}

export function isKafkaImage(image: unknown): boolean {
  return typeof image === 'string' && /(^|\/)kafka(-native)?(:|@|$)/.test(image);
}

export function replicasOf(item: DistObject): number {
  const replicas = item.object.spec?.replicas;
  return typeof replicas === 'number' ? replicas : 1;
}

/** The Secret key mounted at a file of a container: an item of a secret volume or of a projected volume's secret. */
export function secretKeyOfFile(pod: Record<string, any>, container: Record<string, any>, file: string): { name: string; key: string } | undefined {
  for (const mount of (container.volumeMounts ?? []) as { name: string; mountPath: string }[]) {
    if (!file.startsWith(`${mount.mountPath}/`)) continue;
    const volume = ((pod.volumes ?? []) as Record<string, any>[]).find((candidate) => candidate?.name === mount.name);
    const sources: { name?: string; items?: { key: string; path: string }[] }[] = volume?.secret
      ? [{ name: volume.secret.secretName, items: volume.secret.items }]
      : ((volume?.projected?.sources ?? []) as Record<string, any>[]).filter((source) => source?.secret).map((source) => source.secret);
    for (const source of sources) {
      const item = (source.items ?? []).find((candidate) => candidate?.path === file.slice(mount.mountPath.length + 1));
      if (source.name && item?.key) return { name: source.name, key: item.key };
    }
  }
  return undefined;
}
