import { formatBytes, quantityValue } from '../../lib/config/quantity';
import { KAFKA_INSECURE_ANNOTATION } from '../../lib/platform/labels';
import type { StaticContext } from '../context';
import type { Dist } from '../dist';
import { parseJavaMaxHeap } from '../jvm-options';
import { topicsFiles } from '../kafka-topics';
import { LEARNFLOW_TOPICS } from '../mission';
import { type Check, type CheckResult, type DistObject, fail, formatRef, pass, refOf, skip, warn } from '../model';
import { profileOf, unknownProfile } from '../profile';
import { allContainers, envValue, isKafkaImage, kafkaBrokerStatefulSets, kafkaContainer, kafkaRoles, kafkaStatefulSets, namespaceOf, objectsOfKind, parseClusterHost, replicasOf, selects, statefulSetOrdinal } from '../workloads';

const NO_KAFKA = 'no Kafka StatefulSet (env KAFKA_PROCESS_ROLES) in dist/';

function perKafkaStatefulSet(dist: Dist, judge: (item: DistObject) => CheckResult): CheckResult[] {
  const sets = kafkaStatefulSets(dist);
  return sets.length === 0 ? [skip(NO_KAFKA)] : sets.map(judge);
}

/** Brokers in dist/: the replicas of every Kafka StatefulSet whose process roles include broker. */
export function brokerCount(dist: Dist): number {
  return kafkaBrokerStatefulSets(dist).reduce((sum, item) => sum + replicasOf(item), 0);
}

export const kafkaParallelPods: Check<StaticContext> = {
  id: 'kafka-parallel-pod-management',
  description: 'Kafka StatefulSets start pods in parallel (OrderedReady deadlocks a multi-voter KRaft quorum)',
  component: 'kafka',
  remediation: 'set spec.podManagementPolicy: Parallel (immutable: delete the StatefulSet with --cascade=orphan and re-apply)',
  run: ({ dist }) =>
    perKafkaStatefulSet(dist, (item) => {
      const policy = item.object.spec?.podManagementPolicy ?? 'OrderedReady';
      return policy === 'Parallel'
        ? pass([refOf(item)], `${formatRef(refOf(item))} uses Parallel`)
        : fail([refOf(item)], `${formatRef(refOf(item))} uses ${policy}: pod 0 waits to be ready for a quorum its peers cannot join yet`);
    }),
};

export const kafkaHeadlessService: Check<StaticContext> = {
  id: 'kafka-headless-service',
  description: "a Kafka StatefulSet's serviceName is a headless Service that publishes not-ready addresses",
  component: 'kafka',
  remediation: 'point spec.serviceName at a Service with clusterIP: None and publishNotReadyAddresses: true selecting the broker pods',
  run: ({ dist }) =>
    perKafkaStatefulSet(dist, (item) => {
      const serviceName = item.object.spec?.serviceName;
      const service = objectsOfKind(dist, 'Service').find((s) => s.object.metadata.name === serviceName && namespaceOf(s) === namespaceOf(item));
      if (!service) return fail([refOf(item)], `${formatRef(refOf(item))}: serviceName ${serviceName ?? '(unset)'} is not a Service in dist/`);
      const problems = [
        ...(service.object.spec?.clusterIP === 'None' ? [] : ['clusterIP is not None']),
        // Voters resolve each other's DNS names before any of them is ready; without this they never are.
        ...(service.object.spec?.publishNotReadyAddresses === true ? [] : ['publishNotReadyAddresses is not true']),
      ];
      const refs = [refOf(item), refOf(service)];
      return problems.length === 0
        ? pass(refs, `${formatRef(refOf(service))} is headless and publishes not-ready addresses`)
        : fail(refs, `${formatRef(refOf(service))}: ${problems.join('; ')}`);
    }),
};

export const kafkaServiceLinksDisabled: Check<StaticContext> = {
  id: 'kafka-service-links-disabled',
  description: 'pods running the Kafka image disable service links (a Service named kafka injects KAFKA_PORT, which the image turns into a property)',
  component: 'kafka',
  remediation: 'set spec.template.spec.enableServiceLinks: false',
  run: ({ dist }) => {
    const templates = [...new Set(allContainers(dist).filter((entry) => isKafkaImage(entry.container.image)).map((entry) => entry.template))];
    if (templates.length === 0) return [skip('no pods run a Kafka image in dist/')];
    return templates.map((template) => {
      const ref = refOf(template.owner);
      return template.spec.enableServiceLinks === false
        ? pass([ref], `${formatRef(ref)} disables service links`)
        : fail([ref], `${formatRef(ref)}: enableServiceLinks is ${template.spec.enableServiceLinks ?? 'unset (true)'}`);
    });
  },
};

/** The port of the CONTROLLER listener in KAFKA_LISTENERS, e.g. CONTROLLER://:9093 -> 9093. */
function controllerPort(container: Record<string, any>): string | undefined {
  const name = (envValue(container, 'KAFKA_CONTROLLER_LISTENER_NAMES') ?? 'CONTROLLER').split(',')[0];
  const listener = (envValue(container, 'KAFKA_LISTENERS') ?? '').split(',').find((l) => l.startsWith(`${name}://`));
  return listener?.slice(listener.lastIndexOf(':') + 1);
}

export const kafkaQuorumVoters: Check<StaticContext> = {
  id: 'kafka-quorum-voters',
  description: 'controller.quorum.voters lists exactly one voter per controller pod, at its stable DNS name and controller port, node ids consecutive by ordinal',
  component: 'kafka',
  remediation: 'set KAFKA_CONTROLLER_QUORUM_VOTERS to <base+i>@<sts>-<i>.<headless>.<ns>.svc.<cluster domain>:<controller port> for i in 0..replicas-1',
  run: ({ dist }) =>
    perKafkaStatefulSet(dist, (item) => {
      const container = kafkaContainer(item);
      const ref = refOf(item);
      const roles = (envValue(container, 'KAFKA_PROCESS_ROLES') ?? '').split(',');
      if (!roles.includes('controller')) return skip(`${formatRef(ref)} runs no controllers`);
      const voters = envValue(container, 'KAFKA_CONTROLLER_QUORUM_VOTERS');
      if (voters === undefined) {
        return envValue(container, 'KAFKA_CONTROLLER_QUORUM_BOOTSTRAP_SERVERS')
          ? warn([ref], `${formatRef(ref)} uses a dynamic quorum (bootstrap servers); the stock entrypoint expects static voters`)
          : fail([ref], `${formatRef(ref)}: KAFKA_CONTROLLER_QUORUM_VOTERS is not set`);
      }
      const replicas = replicasOf(item);
      const { name } = item.object.metadata;
      // <sts>-<i>.<serviceName>[.<namespace>[.svc[.<domain>]]]: the pod's own name through its governing Service.
      const voterOrdinal = (text: string): number | undefined => {
        const host = parseClusterHost(text);
        const [pod, service, namespace] = host?.names ?? [];
        const shaped = host && service === item.object.spec?.serviceName && (namespace ?? (host.svc ? undefined : namespaceOf(item))) === namespaceOf(item);
        return shaped ? statefulSetOrdinal(item, pod) : undefined;
      };
      const port = controllerPort(container);
      const problems: string[] = [];
      const entries = voters.split(',').map((entry) => entry.trim());
      if (entries.length !== replicas) problems.push(`${entries.length} voter(s) for ${replicas} replica(s)`);
      // Node ids are the ordinal plus a base (0 when every broker is a voter, another range for dedicated voters).
      const base = Number(/^(\d+)@/.exec(entries[0])?.[1] ?? 0);
      entries.forEach((entry, index) => {
        const match = /^(\d+)@([^:]+):(\d+)$/.exec(entry);
        if (!match) problems.push(`'${entry}' is not <id>@<host>:<port>`);
        else if (Number(match[1]) !== base + index || voterOrdinal(match[2]) !== index) problems.push(`'${entry}' should be voter ${base + index} at ${name}-${index}.${item.object.spec?.serviceName}...`);
        else if (port && match[3] !== port) problems.push(`'${entry}' uses port ${match[3]}, the controller listener is on ${port}`);
      });
      return problems.length === 0
        ? pass([ref], `${formatRef(ref)}: ${entries.length} voter(s) for ${replicas} replica(s)`)
        : fail([ref], `${formatRef(ref)}: ${problems.join('; ')}`);
    }),
};

export const kafkaQuorumSize: Check<StaticContext> = {
  id: 'kafka-quorum-size',
  description: 'the KRaft voters are 1, 3 or 5 (a majority must be up: 2 voters survive no failure, 4 no more than 3 do)',
  component: 'kafka',
  remediation: 'set kafka.controllers to 1, 3 or 5 (with kafka.dedicatedControllers: true to scale brokers apart), then npm run synth',
  run: ({ dist }) =>
    perKafkaStatefulSet(dist, (item) => {
      const ref = refOf(item);
      const voters = envValue(kafkaContainer(item), 'KAFKA_CONTROLLER_QUORUM_VOTERS');
      if (voters === undefined) return skip(`${formatRef(ref)} has no static voters (see kafka-quorum-voters)`);
      const count = voters.split(',').length;
      return [1, 3, 5].includes(count)
        ? pass([ref], `${formatRef(ref)}: ${count} voter(s), ${Math.floor((count - 1) / 2)} may be down`)
        : fail([ref], `${formatRef(ref)}: ${count} voters: ${count % 2 === 0 ? `survives no more failures than ${count - 1} voters` : 'more than 5 voters slow every metadata commit'}`);
    }),
};

export const kafkaDisruptionSafety: Check<StaticContext> = {
  id: 'kafka-disruption-safety',
  description: 'drains and rolls take one Kafka pod at a time, and only when the others are caught up: a PodDisruptionBudget of at most one unavailable that never evicts unhealthy pods past it, and a readiness probe that is more than an open port',
  component: 'kafka',
  remediation:
    'give each Kafka StatefulSet a PodDisruptionBudget with maxUnavailable: 1 and unhealthyPodEvictionPolicy: IfHealthyBudget, and the Kafka container an exec readiness probe that judges replication (a port opens before the broker has caught up)',
  run: ({ dist }) =>
    perKafkaStatefulSet(dist, (item) => {
      const ref = refOf(item);
      const labels = item.object.spec?.template?.metadata?.labels ?? {};
      const budgets = objectsOfKind(dist, 'PodDisruptionBudget').filter((b) => namespaceOf(b) === namespaceOf(item) && selects(b.object.spec?.selector, labels));
      const problems: string[] = [];
      if (budgets.length !== 1) problems.push(`${budgets.length} PodDisruptionBudgets select its pods`);
      for (const budget of budgets) {
        const { maxUnavailable, minAvailable, unhealthyPodEvictionPolicy } = budget.object.spec ?? {};
        const allowed = maxUnavailable !== undefined ? maxUnavailable : typeof minAvailable === 'number' ? replicasOf(item) - minAvailable : undefined;
        if (typeof allowed !== 'number' || allowed > 1) problems.push(`${formatRef(refOf(budget))} lets ${allowed ?? 'an unknown number of'} pods be disrupted at once`);
        if (unhealthyPodEvictionPolicy === 'AlwaysAllow') problems.push(`${formatRef(refOf(budget))} evicts pods that are not Ready regardless of the budget (unhealthyPodEvictionPolicy AlwaysAllow)`);
      }
      const probe = kafkaContainer(item).readinessProbe;
      if (!probe?.exec) problems.push(`the readiness probe is ${probe?.tcpSocket ? 'a port check: Ready before the node has caught up' : 'not an exec check of the node'}`);
      const refs = [ref, ...budgets.map(refOf)];
      return problems.length === 0
        ? pass(refs, `${formatRef(ref)}: one pod at a time, unhealthy pods kept within the budget, readiness judged by the node's state`)
        : fail(refs, `${formatRef(ref)}: ${problems.join('; ')}`);
    }),
};

// Broker settings for internal topics, with Kafka 4.x defaults (GroupCoordinatorConfig, TransactionLogConfig,
// ShareCoordinatorConfig, ReplicationConfigs). Defaults of 3 never form on fewer brokers.
const INTERNAL_REPLICATION = [
  { what: 'offsets topic', env: 'KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR', fallback: 3 },
  { what: 'transaction state log', env: 'KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR', fallback: 3, minIsr: { env: 'KAFKA_TRANSACTION_STATE_LOG_MIN_ISR', fallback: 2 } },
  { what: 'share-group state topic', env: 'KAFKA_SHARE_COORDINATOR_STATE_TOPIC_REPLICATION_FACTOR', fallback: 3, minIsr: { env: 'KAFKA_SHARE_COORDINATOR_STATE_TOPIC_MIN_ISR', fallback: 2 } },
  { what: 'broker default for new topics', env: 'KAFKA_DEFAULT_REPLICATION_FACTOR', fallback: 1, minIsr: { env: 'KAFKA_MIN_INSYNC_REPLICAS', fallback: 1 } },
];

/** The broker default min.insync.replicas (Kafka's default 1), which topics without their own inherit. */
export function brokerMinInsyncReplicas(dist: Dist): number {
  return Number(kafkaBrokerStatefulSets(dist).map((item) => envValue(kafkaContainer(item), 'KAFKA_MIN_INSYNC_REPLICAS'))[0] ?? 1);
}

export const kafkaInternalTopicReplication: Check<StaticContext> = {
  id: 'kafka-internal-topic-replication',
  description: 'internal topics (offsets, transactions, share state) and defaults replicate at most across the brokers that exist',
  component: 'kafka',
  remediation: 'set KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR, KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR and KAFKA_SHARE_COORDINATOR_STATE_TOPIC_REPLICATION_FACTOR to min(3, brokers)',
  run: ({ dist }) => {
    const brokers = brokerCount(dist);
    return perKafkaStatefulSet(dist, (item) => {
      const container = kafkaContainer(item);
      const ref = refOf(item);
      // Internal topics live on brokers: a controller-only node never reads these settings.
      if (!kafkaRoles(item).includes('broker')) return skip(`${formatRef(ref)} runs no brokers`);
      const problems: string[] = [];
      for (const setting of INTERNAL_REPLICATION) {
        const factor = Number(envValue(container, setting.env) ?? setting.fallback);
        const shown = `${setting.env}=${factor}${envValue(container, setting.env) === undefined ? ' (Kafka default)' : ''}`;
        if (!(factor >= 1 && factor <= brokers)) problems.push(`${shown} but ${brokers} broker(s)`);
      }
      return problems.length === 0
        ? pass([ref], `${formatRef(ref)}: internal topic replication fits ${brokers} broker(s)`)
        : fail([ref], `${formatRef(ref)}: ${problems.join('; ')} (consumer groups or transactions never form)`);
    });
  },
};

export const kafkaHeapWithinLimit: Check<StaticContext> = {
  id: 'kafka-heap-within-limit',
  description: 'JVM heap (-Xmx in KAFKA_HEAP_OPTS) fits the container memory limit, with room for off-heap memory',
  component: 'kafka',
  remediation: 'lower -Xmx in KAFKA_HEAP_OPTS to about half the memory limit, or raise the limit',
  run: ({ dist }) => {
    const results: CheckResult[] = [];
    for (const { template, container, where } of allContainers(dist)) {
      const options = envValue(container, 'KAFKA_HEAP_OPTS');
      const isBroker = envValue(container, 'KAFKA_PROCESS_ROLES') !== undefined;
      if (options === undefined && !isBroker) continue;
      const ref = refOf(template.owner);
      const at = `${formatRef(ref)} ${where}`;
      // kafka-server-start.sh defaults to -Xmx1G when KAFKA_HEAP_OPTS is unset.
      const heap = options === undefined ? 2 ** 30 : parseJavaMaxHeap(options);
      const limit = quantityValue(container.resources?.limits?.memory);
      if (heap === undefined) results.push(fail([ref], `${at}: KAFKA_HEAP_OPTS '${options}' sets no -Xmx; the heap then follows the JVM's own default`));
      else if (limit === undefined) results.push(fail([ref], `${at}: no memory limit to size the heap against`));
      else if (heap >= limit) results.push(fail([ref], `${at}: heap ${formatBytes(heap)} is not below the memory limit ${formatBytes(limit)}; the container is OOM-killed`));
      // Metaspace, thread stacks and direct buffers live outside the heap.
      else if (heap > 0.8 * limit) results.push(warn([ref], `${at}: heap ${formatBytes(heap)} leaves under 20% of the ${formatBytes(limit)} limit off-heap`));
      else results.push(pass([ref], `${at}: heap ${formatBytes(heap)} within limit ${formatBytes(limit)}`));
    }
    return results.length > 0 ? results : [skip('no Kafka containers in dist/')];
  },
};

export const kafkaTopicReplication: Check<StaticContext> = {
  id: 'kafka-topic-replication',
  description: 'every declared topic has at least one partition and a replication factor of at most the brokers that exist',
  component: 'kafka',
  remediation: 'lower the topic replication factor to the broker count',
  run: ({ dist }) => {
    const files = topicsFiles(dist);
    if (files.length === 0) return [skip('no topics.conf ConfigMap in dist/')];
    const brokers = brokerCount(dist);
    return files.flatMap(({ configMap, topics, errors }) => {
      const ref = refOf(configMap);
      const problems = [...errors];
      for (const topic of topics) {
        if (topic.partitions < 1) problems.push(`${topic.name}: ${topic.partitions} partitions`);
        if (topic.replicationFactor < 1 || topic.replicationFactor > brokers) problems.push(`${topic.name}: replication factor ${topic.replicationFactor} with ${brokers} broker(s)`);
      }
      return problems.length === 0
        ? [pass([ref], `${formatRef(ref)}: ${topics.length} topics fit ${brokers} broker(s)`)]
        : [fail([ref], `${formatRef(ref)}: ${problems.join('; ')}`)];
    });
  },
};

export const kafkaTopicsDeclared: Check<StaticContext> = {
  id: 'kafka-topics-declared',
  description: 'the 9 LearnFlow topics are declared with their partitions and retention',
  component: 'kafka',
  remediation: 'declare the topic in the Kafka config (kafka.topics) with the partitions and retention of PRODUCT.md, then npm run synth',
  run: ({ dist }) => {
    const files = topicsFiles(dist);
    if (files.length === 0) {
      return kafkaStatefulSets(dist).length === 0
        ? [skip(NO_KAFKA)]
        : [fail([], 'Kafka runs but no ConfigMap in dist/ carries topics.conf, so no topic is provisioned')];
    }
    const declared = new Map(files.flatMap(({ configMap, topics }) => topics.map((topic) => [topic.name, { topic, configMap }] as const)));
    return LEARNFLOW_TOPICS.map((expected) => {
      const found = declared.get(expected.name);
      if (!found) return fail(files.map((file) => refOf(file.configMap)), `topic ${expected.name} is not declared`);
      const ref = refOf(found.configMap);
      const retention = Number(found.topic.configs['retention.ms']);
      if (found.topic.partitions < expected.partitions) {
        return fail([ref], `topic ${expected.name}: ${found.topic.partitions} partitions, LearnFlow needs ${expected.partitions}`);
      }
      if (retention !== expected.retentionMs) {
        return fail([ref], `topic ${expected.name}: retention.ms ${found.topic.configs['retention.ms'] ?? '(unset: broker default)'}, LearnFlow needs ${expected.retentionMs}`);
      }
      return found.topic.partitions > expected.partitions
        ? warn([ref], `topic ${expected.name}: ${found.topic.partitions} partitions, more than the ${expected.partitions} planned`)
        : pass([ref], `topic ${expected.name}: ${expected.partitions} partitions, retention ${expected.retentionMs / 86_400_000} d`);
    });
  },
};

/** One replicated log whose min.insync.replicas is judged: a declared topic, or a broker default. */
interface ReplicatedLog {
  readonly item: DistObject;
  readonly what: string;
  readonly replicationFactor: number;
  readonly minIsr: number;
}

function replicatedLogs(dist: Dist): ReplicatedLog[] {
  const fallback = brokerMinInsyncReplicas(dist);
  const topics = topicsFiles(dist).flatMap(({ configMap, topics }) =>
    topics.map((topic) => ({
      item: configMap,
      what: `topic ${topic.name} (${configMap.file} data.topics.conf line ${topic.line})`,
      replicationFactor: topic.replicationFactor,
      minIsr: Number(topic.configs['min.insync.replicas'] ?? fallback),
    })),
  );
  // Controller-only nodes host no topic: their env has no replication settings to judge.
  const defaults = kafkaBrokerStatefulSets(dist).flatMap((item) => {
    const container = kafkaContainer(item);
    return INTERNAL_REPLICATION.flatMap(({ what, env, fallback: rfDefault, minIsr }) =>
      minIsr
        ? [
            {
              item,
              what: `${what} (${item.file} env ${env}, ${minIsr.env})`,
              replicationFactor: Number(envValue(container, env) ?? rfDefault),
              minIsr: Number(envValue(container, minIsr.env) ?? minIsr.fallback),
            },
          ]
        : [],
    );
  });
  return [...topics, ...defaults];
}

export const kafkaMinInsyncReplicas: Check<StaticContext> = {
  id: 'kafka-min-insync-replicas',
  description:
    'min.insync.replicas (topics and broker defaults) leaves one broker free to be down: at most replication factor - 1 when replicated (1 without replicas), and at least 2 in production',
  component: 'kafka',
  remediation: 'with replication factor 3, set min.insync.replicas=2 (the topic config, and KAFKA_MIN_INSYNC_REPLICAS for the broker default)',
  run: ({ dist }) => {
    const logs = replicatedLogs(dist);
    if (logs.length === 0) return [skip('no Kafka topics or brokers in dist/')];
    const profile = profileOf(dist);
    const production = profile.name === 'production';
    return [...unknownProfile(profile), ...logs.map(({ item, what, replicationFactor: rf, minIsr }) => {
      const ref = refOf(item);
      const at = `${formatRef(ref)}: ${what}`;
      if (!(Number.isInteger(minIsr) && minIsr >= 1 && minIsr <= Math.max(1, rf - 1))) {
        const why = minIsr > rf ? 'every acks=all producer always fails' : 'one broker down (a roll, a drain) fails every acks=all producer';
        return fail([ref], `${at}: min.insync.replicas ${minIsr} with replication factor ${rf}: ${why} (rule: 1..max(1, replication factor - 1))`);
      }
      if (production && minIsr < 2) {
        return fail([ref], `${at}: min.insync.replicas ${minIsr} in production: an acks=all write acknowledged by one replica is lost with that broker (rule: >= 2)`);
      }
      return pass([ref], `${at}: min.insync.replicas ${minIsr} with replication factor ${rf}`);
    })];
  },
};


/**
 * A Kafka container's listeners (KAFKA_LISTENERS), their security protocols (KAFKA_LISTENER_SECURITY_PROTOCOL_MAP; a
 * listener missing from the map is named after its protocol), and the listeners the node uses: its own and the voters'.
 */
export function listenerProtocols(container: Record<string, any>): { listeners: string[]; protocols: Map<string, string>; used: string[] } {
  const map = envValue(container, 'KAFKA_LISTENER_SECURITY_PROTOCOL_MAP') ?? '';
  const listeners = (envValue(container, 'KAFKA_LISTENERS') ?? '').split(',').map((listener) => listener.split('://')[0].trim()).filter(Boolean);
  const controllerNames = (envValue(container, 'KAFKA_CONTROLLER_LISTENER_NAMES') ?? '').split(',').map((name) => name.trim());
  const protocols = new Map(map.split(',').filter(Boolean).map((pair): [string, string] => [pair.split(':')[0].trim(), (pair.split(':')[1] ?? '').trim()]));
  // A node connects to the voters' listener as a client: its protocol counts even where the node does not listen on it.
  const used = [...new Set([...listeners, ...controllerNames.filter((name) => protocols.has(name))])];
  return { listeners, protocols, used };
}

/**
 * Listeners that let a peer in unauthenticated: PLAINTEXT and SASL_PLAINTEXT (credentials and data in the
 * clear), and SSL without client certificates required (`listener.name.<name>.ssl.client.auth`, else the
 * node-wide `ssl.client.auth`: encrypted, but anyone). And TLS that proves nothing: no truststore (the JVM's
 * public CAs would vouch for a peer) or host-name checks turned off (`ssl.endpoint.identification.algorithm`
 * empty: any certificate of the CA passes for any broker or voter).
 */
function unauthenticatedListeners(container: Record<string, any>): string[] {
  const { listeners, protocols, used } = listenerProtocols(container);
  // A listener's own setting, else the node-wide one (Kafka's listener.name.<name>. prefix overrides the plain key).
  const setting = (name: string, key: string): string | undefined =>
    envValue(container, `KAFKA_LISTENER_NAME_${name.toUpperCase()}_${key}`) ?? envValue(container, `KAFKA_${key}`);
  return used.flatMap((name) => {
    const protocol = protocols.get(name) ?? name;
    if (protocol === 'PLAINTEXT' || protocol === 'SASL_PLAINTEXT') return [`${name} (${protocol})`];
    const found: string[] = [];
    if (protocol === 'SSL' && listeners.includes(name) && setting(name, 'SSL_CLIENT_AUTH') !== 'required') found.push(`${name} (SSL without client certificates required)`);
    if (!setting(name, 'SSL_TRUSTSTORE_LOCATION')) found.push(`${name} (${protocol} with no truststore: the JVM's public CAs vouch for peers)`);
    if (setting(name, 'SSL_ENDPOINT_IDENTIFICATION_ALGORITHM') === '') found.push(`${name} (${protocol} with host-name checks off: ssl.endpoint.identification.algorithm is empty)`);
    return found;
  });
}

export const kafkaListenersAuthenticated: Check<StaticContext> = {
  id: 'kafka-listeners-authenticated',
  description: 'in production, every Kafka listener authenticates its peers over TLS: SASL_SSL, or SSL with client certificates required; no PLAINTEXT',
  component: 'kafka',
  remediation:
    'set kafka.security.enabled: true and synthesize again (SCRAM-SHA-512 over TLS for clients, certificates for brokers and voters); kafka.security.insecurePlaintextInProduction: true accepts the risk, and is reported',
  run: ({ dist }) => {
    const profile = profileOf(dist);
    const production = profile.name === 'production';
    return [
      ...unknownProfile(profile),
      ...perKafkaStatefulSet(dist, (item) => {
        const ref = refOf(item);
        const open = unauthenticatedListeners(kafkaContainer(item));
        if (open.length === 0) return pass([ref], `${formatRef(ref)}: every listener authenticates over TLS`);
        const message = `${formatRef(ref)}: ${open.join(', ')}: any pod that reaches the port is let in${production ? '' : ` (profile ${profile.name ?? 'unknown'}; required in production)`}`;
        if (!production) return pass([ref], message);
        return item.object.metadata?.annotations?.[KAFKA_INSECURE_ANNOTATION] === 'true'
          ? warn([ref], `${message}, accepted by kafka.security.insecurePlaintextInProduction`, 'set kafka.security.enabled: true')
          : fail([ref], message);
      }),
    ];
  },
};

/** The Secret volumes (secret, or projected secret sources) a container mounts at or above `path`. */
function secretsMountedAt(template: { spec: Record<string, any> }, container: Record<string, any>, path: string): string[] {
  const mounts = ((container.volumeMounts ?? []) as { name: string; mountPath: string }[]).filter((m) => path === m.mountPath || path.startsWith(`${m.mountPath.replace(/\/+$/, '')}/`));
  return mounts.flatMap((mount) => {
    const volume = ((template.spec.volumes ?? []) as Record<string, any>[]).find((v) => v.name === mount.name);
    if (volume?.secret?.secretName) return [volume.secret.secretName as string];
    return ((volume?.projected?.sources ?? []) as Record<string, any>[]).flatMap((source) => (source.secret?.name ? [source.secret.name as string] : []));
  });
}

/** Whether every listener of a Kafka StatefulSet authenticates its peers (kafka.security). */
export function kafkaListenersSecured(item: DistObject): boolean {
  return unauthenticatedListeners(kafkaContainer(item)).length === 0;
}

export const kafkaJobsAuthenticated: Check<StaticContext> = {
  id: 'kafka-jobs-authenticated',
  description: "where the brokers authenticate, every Job running Kafka's tools (env BOOTSTRAP_SERVERS) presents credentials from a Secret (KAFKA_CLIENT_TLS_DIR on a mounted Secret)",
  component: 'kafka',
  remediation: 'set KAFKA_CLIENT_TLS_DIR to a directory of the admin certificate Secret the Job mounts (tls.crt, tls.key, ca.crt): npm run synth does',
  run: ({ dist }) => {
    const secured = kafkaStatefulSets(dist).some(kafkaListenersSecured);
    if (!secured) return [skip('no Kafka StatefulSet in dist/ whose listeners all authenticate')];
    const jobs = allContainers(dist).filter(({ template, container }) => !template.longRunning && envValue(container, 'BOOTSTRAP_SERVERS') !== undefined);
    if (jobs.length === 0) return [skip('no Job with env BOOTSTRAP_SERVERS in dist/')];
    return jobs.map(({ template, container, where }) => {
      const ref = refOf(template.owner);
      const at = `${formatRef(ref)} ${where}`;
      const dir = envValue(container, 'KAFKA_CLIENT_TLS_DIR');
      if (!dir) return fail([ref], `${at}: no KAFKA_CLIENT_TLS_DIR: its tools connect without credentials and the brokers refuse them`);
      const secrets = secretsMountedAt(template, container, dir);
      return secrets.length > 0
        ? pass([ref], `${at}: credentials from Secret ${secrets.join(', ')} at ${dir}`)
        : fail([ref], `${at}: KAFKA_CLIENT_TLS_DIR ${dir} is on no mounted Secret`);
    });
  },
};
