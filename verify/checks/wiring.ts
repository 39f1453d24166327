import type { StaticContext } from '../context';
import type { Dist } from '../dist';
import { type Check, type CheckResult, type DistObject, fail, formatRef, type ObjectRef, pass, refOf, skip } from '../model';
import { commandLineSettings } from '../postgres-settings';
import { allContainers, envValue, isPostgresServer, kafkaContainer, kafkaStatefulSets, namespaceOf, objectsOfKind, parseClusterHost, type PodTemplate, podTemplates, replicasOf, selects, statefulSetOrdinal } from '../workloads';
import { daprComponents } from './references';

/** A server's pods and the container ports its clients must reach, with a word on what they are. */
interface Server {
  readonly template: PodTemplate;
  readonly container: Record<string, any>;
  readonly clientPorts: ReadonlySet<number>;
  /** e.g. 'the client listener INTERNAL (container port 9092)'. */
  readonly describe: string;
}

/** Where a client reaches a server, as configured: who says it, and the host:port. */
interface ClientAddress {
  readonly owner: DistObject;
  readonly namespace: string;
  readonly where: string;
  readonly address: string;
}

function containerPortOf(container: Record<string, any>, target: unknown): number | undefined {
  if (typeof target === 'number') return target;
  const port = ((container.ports ?? []) as { name?: string; containerPort?: number }[]).find((p) => p?.name === target);
  return port?.containerPort;
}

/**
 * Judges one address: `<service>[.<namespace>[.svc[.<domain>]]]:<port>` through a Service's port to its
 * targetPort, or `<pod>.<service>.<namespace>[.svc[.<domain>]]:<port>` straight to the pod's port, where the
 * Service is the StatefulSet's spec.serviceName and the pod one of its replicas. <domain> must be the cluster
 * domain the brokers themselves use in dist/; any other shape of host is refused.
 */
function judgeAddress(dist: Dist, servers: readonly Server[], domains: ReadonlySet<string>, client: ClientAddress): CheckResult {
  const refs: ObjectRef[] = [refOf(client.owner)];
  const at = `${formatRef(refOf(client.owner))} (${client.owner.file}) ${client.where}`;
  const match = /^([a-z0-9.-]+):(\d+)$/.exec(client.address);
  if (!match) return fail(refs, `${at}: '${client.address}' is not <host>:<port>`);
  const host = parseClusterHost(match[1]);
  if (!host) {
    return fail(refs, `${at}: host '${match[1]}' is not <service>[.<namespace>[.svc[.<cluster domain>]]] or <pod>.<service>.<namespace>[.svc[.<cluster domain>]]`);
  }
  if (host.domain !== undefined && !domains.has(host.domain)) {
    const known = domains.size > 0 ? `the brokers in dist/ use ${[...domains].join(', ')}` : 'no broker in dist/ advertises a .svc.<domain> host';
    return fail(refs, `${at}: host '${match[1]}' ends in cluster domain '${host.domain}', but ${known}`);
  }
  const [pod, service, namespace = client.namespace] = host.names.length === 3 ? host.names : [undefined, ...host.names];
  const port = Number(match[2]);
  const serviceItem = objectsOfKind(dist, 'Service').find((item) => item.object.metadata.name === service && namespaceOf(item) === namespace);
  const server = serviceItem && servers.find((s) => namespaceOf(s.template.owner) === namespace && selects(serviceItem.object.spec?.selector, s.template.labels));
  if (!serviceItem || !server) return fail(refs, `${at}: ${client.address} names no Service of ${servers.map((s) => formatRef(refOf(s.template.owner))).join(', ')} in dist/ (service ${service}, namespace ${namespace})`);
  refs.push(refOf(serviceItem));
  let target: number | undefined;
  if (pod !== undefined) {
    // A pod's own DNS name exists only through its StatefulSet's governing Service, and reaches the container port itself.
    const owner = server.template.owner;
    if (owner.object.kind !== 'StatefulSet' || owner.object.spec?.serviceName !== service) {
      return fail(refs, `${at}: ${client.address} names pod ${pod} through Service ${service}, which is not the spec.serviceName of ${formatRef(refOf(owner))} (${owner.object.spec?.serviceName ?? 'unset'}): no pod DNS name exists there`);
    }
    if (statefulSetOrdinal(owner, pod) === undefined) {
      return fail(refs, `${at}: ${client.address} names pod ${pod}, not one of ${owner.object.metadata.name}-0..${replicasOf(owner) - 1} (${formatRef(refOf(owner))} spec.replicas ${replicasOf(owner)})`);
    }
    target = port;
  } else {
    const entry = ((serviceItem.object.spec?.ports ?? []) as { port?: number; targetPort?: unknown }[]).find((p) => p?.port === port);
    if (!entry) return fail(refs, `${at}: ${client.address}: ${formatRef(refOf(serviceItem))} has no port ${port} (it has ${((serviceItem.object.spec?.ports ?? []) as { port?: number }[]).map((p) => p.port).join(', ')})`);
    target = containerPortOf(server.container, entry.targetPort ?? entry.port);
  }
  return target !== undefined && server.clientPorts.has(target)
    ? pass(refs, `${at}: ${client.address} reaches ${server.describe}`)
    : fail(refs, `${at}: ${client.address} reaches container port ${target ?? '(unresolved)'} of ${formatRef(refOf(server.template.owner))}, not ${server.describe}`);
}

/** The cluster DNS domains the brokers use for themselves: what follows `.svc.` in their advertised listeners and quorum voters. */
function brokerClusterDomains(dist: Dist): Set<string> {
  const texts = kafkaStatefulSets(dist).flatMap((item) => {
    const container = kafkaContainer(item);
    return [advertisedListeners(container), envValue(container, 'KAFKA_CONTROLLER_QUORUM_VOTERS')];
  });
  return new Set(texts.flatMap((text) => [...(text ?? '').matchAll(/\.svc\.([a-z0-9.-]+):\d+/g)].map((m) => m[1])));
}

/** `NAME://host:port` entries of a listener list, as name -> { host, port }. */
function listenerEntries(text: string | undefined): Map<string, { host: string; port: number }> {
  const entries = new Map<string, { host: string; port: number }>();
  for (const entry of (text ?? '').split(',')) {
    const match = /^\s*([A-Za-z0-9_]+):\/\/(.*):(\d+)\s*$/.exec(entry);
    if (match) entries.set(match[1], { host: match[2], port: Number(match[3]) });
  }
  return entries;
}

/** KAFKA_ADVERTISED_LISTENERS from env, or as the container's script exports it (it needs the pod's name). */
function advertisedListeners(container: Record<string, any>): string | undefined {
  const script = [...(container.command ?? []), ...(container.args ?? [])].join('\n');
  return envValue(container, 'KAFKA_ADVERTISED_LISTENERS') ?? /KAFKA_ADVERTISED_LISTENERS=["']?([^"'\s]+)/.exec(script)?.[1];
}

/**
 * The brokers' client listeners: those advertised at an in-cluster host (not localhost, which is the
 * port-forward listener), never a controller listener; the inter-broker listener when nothing is advertised.
 */
function kafkaServers(dist: Dist): Server[] {
  const templates = podTemplates(dist);
  return kafkaStatefulSets(dist).map((item) => {
    const container = kafkaContainer(item);
    const listeners = listenerEntries(envValue(container, 'KAFKA_LISTENERS'));
    const controllers = (envValue(container, 'KAFKA_CONTROLLER_LISTENER_NAMES') ?? 'CONTROLLER').split(',');
    const advertised = [...listenerEntries(advertisedListeners(container))].filter(([, { host }]) => !/^(localhost|127\.|\[?::1\]?$)/.test(host)).map(([name]) => name);
    const names = (advertised.length > 0 ? advertised : [envValue(container, 'KAFKA_INTER_BROKER_LISTENER_NAME') ?? 'PLAINTEXT']).filter(
      (name) => listeners.has(name) && !controllers.includes(name),
    );
    const ports = names.map((name) => listeners.get(name)!.port);
    return {
      template: templates.find((template) => template.owner === item)!,
      container,
      clientPorts: new Set(ports),
      describe: `the client listener ${names.join(', ') || '(none found in KAFKA_LISTENERS)'} (container port ${ports.join(', ') || '-'})`,
    };
  });
}

export const kafkaClientPort: Check<StaticContext> = {
  id: 'kafka-client-port',
  description: "the topics Job (BOOTSTRAP_SERVERS) and Dapr's pubsub.kafka (brokers) reach Kafka on a Service port that leads to the brokers' client listener",
  component: 'kafka',
  remediation: 'point BOOTSTRAP_SERVERS and the brokers metadata at the bootstrap Service port of the client listener (e.g. kafka-bootstrap.kafka.svc.cluster.local:9092), not the controller or port-forward listener',
  run: ({ dist }) => {
    const servers = kafkaServers(dist);
    const domains = brokerClusterDomains(dist);
    if (servers.length === 0) return [skip('no Kafka StatefulSet in dist/')];
    const fromEnv = allContainers(dist)
      .filter(({ container }) => envValue(container, 'BOOTSTRAP_SERVERS') !== undefined)
      .flatMap(({ template, where, container }) =>
        envValue(container, 'BOOTSTRAP_SERVERS')!.split(',').map((address) => ({ owner: template.owner, namespace: namespaceOf(template.owner), where: `${where} env BOOTSTRAP_SERVERS`, address: address.trim() })),
      );
    const fromDapr = daprComponents(dist)
      .filter((item) => item.object.spec?.type === 'pubsub.kafka')
      .flatMap((item) => {
        const index = ((item.object.spec?.metadata ?? []) as { name?: string }[]).findIndex((entry) => entry?.name === 'brokers');
        const value = item.object.spec.metadata[index]?.value;
        return typeof value === 'string'
          ? value.split(',').map((address) => ({ owner: item, namespace: namespaceOf(item), where: `spec.metadata[${index}] (brokers)`, address: address.trim() }))
          : [];
      });
    const clients = [...fromEnv, ...fromDapr];
    return clients.length > 0 ? clients.map((client) => judgeAddress(dist, servers, domains, client)) : [skip('no BOOTSTRAP_SERVERS env and no pubsub.kafka brokers in dist/')];
  },
};

/** PostgreSQL servers: the port the server listens on (`-c port=`, PGPORT, or 5432). */
function postgresServers(dist: Dist): Server[] {
  return podTemplates(dist)
    .filter((template) => template.longRunning)
    .flatMap((template) =>
      ((template.spec.containers ?? []) as Record<string, any>[])
        .filter((container) => isPostgresServer(container))
        .map((container) => {
          const port = Number(commandLineSettings(container).get('port') ?? envValue(container, 'PGPORT') ?? 5432);
          return { template, container, clientPorts: new Set([port]), describe: `the port PostgreSQL listens on (${port})` };
        }),
    );
}

/** A PostgreSQL client as its container configures it: libpq's PG* env, or postgres_exporter's DATA_SOURCE_URI. */
interface PostgresClient extends ClientAddress {
  readonly container: Record<string, any>;
  readonly sslmode?: string;
  readonly sslrootcert?: string;
}

function postgresClients(dist: Dist, servers: readonly Server[]): PostgresClient[] {
  return allContainers(dist)
    .filter(({ container }) => !servers.some((server) => server.container === container))
    .flatMap(({ template, where, container }): PostgresClient[] => {
      const owner = template.owner;
      const namespace = namespaceOf(owner);
      if (envValue(container, 'PGHOST') !== undefined) {
        return [
          {
            owner,
            namespace,
            container,
            where: `${where} env PGHOST, PGPORT`,
            // libpq's default port when PGPORT is unset.
            address: `${envValue(container, 'PGHOST')}:${envValue(container, 'PGPORT') ?? 5432}`,
            sslmode: envValue(container, 'PGSSLMODE'),
            sslrootcert: envValue(container, 'PGSSLROOTCERT'),
          },
        ];
      }
      // postgres_exporter: `[postgresql://[user@]]host:port/database[?sslmode=...&sslrootcert=...]`.
      const uri = envValue(container, 'DATA_SOURCE_URI');
      const match = uri === undefined ? null : /^(?:postgres(?:ql)?:\/\/(?:[^@/]*@)?)?([^/?]+)(?:\/[^?]*)?(?:\?(.*))?$/.exec(uri);
      if (!match) return [];
      const parameters = new URLSearchParams(match[2] ?? '');
      const address = /:\d+$/.test(match[1]) ? match[1] : `${match[1]}:5432`;
      return [
        { owner, namespace, container, where: `${where} env DATA_SOURCE_URI`, address, sslmode: parameters.get('sslmode') ?? undefined, sslrootcert: parameters.get('sslrootcert') ?? undefined },
      ];
    });
}

/** With the server on TLS (ssl=on; pg_hba admits network clients over TLS only): the client verifies it, against a CA file it mounts. */
function judgeTls(client: PostgresClient, server: Server | undefined): CheckResult | undefined {
  if (!server || commandLineSettings(server.container).get('ssl') !== 'on') return undefined;
  const refs = [refOf(client.owner)];
  const at = `${formatRef(refOf(client.owner))} (${client.owner.file}) ${client.where}`;
  if (client.sslmode !== 'verify-full') {
    const mode = client.sslmode === undefined ? "unset (libpq's prefer: TLS without checking the server)" : `'${client.sslmode}'`;
    return fail(refs, `${at}: ${formatRef(refOf(server.template.owner))} runs with ssl=on, and the client's sslmode is ${mode}, not verify-full`);
  }
  const mounts = ((client.container.volumeMounts ?? []) as { mountPath?: string }[]).map((mount) => mount.mountPath ?? '');
  if (!client.sslrootcert || !mounts.some((mountPath) => client.sslrootcert!.startsWith(`${mountPath.replace(/\/$/, '')}/`))) {
    return fail(refs, `${at}: sslmode verify-full with sslrootcert ${client.sslrootcert ?? '(unset)'}, which is no file of a volume the container mounts`);
  }
  return undefined;
}

export const postgresClientPort: Check<StaticContext> = {
  id: 'postgres-client-port',
  description:
    'Jobs and pods that connect to PostgreSQL (PGHOST, PGPORT; DATA_SOURCE_URI) reach it on a Service port that leads to the port the server listens on, and with the server on TLS verify it (verify-full, a mounted CA)',
  component: 'postgres',
  remediation:
    "set PGHOST to the PostgreSQL Service and PGPORT to its port (e.g. postgres.postgres.svc.cluster.local and 5432), and the Service targetPort to the server's port; with ssl=on, PGSSLMODE=verify-full (sslmode= in a URI) and PGSSLROOTCERT the mounted ca.crt",
  run: ({ dist }) => {
    const servers = postgresServers(dist);
    const domains = brokerClusterDomains(dist);
    if (servers.length === 0) return [skip('no PostgreSQL server in dist/')];
    const clients = postgresClients(dist, servers);
    if (clients.length === 0) return [skip('no container sets PGHOST or DATA_SOURCE_URI in dist/')];
    return clients.map((client) => {
      const reached = judgeAddress(dist, servers, domains, client);
      if (reached.status !== 'pass') return reached;
      // One server per namespace in dist/: the one its Service leads to.
      const server = servers.find((candidate) => reached.objects.some((ref) => ref.kind === 'Service' && ref.namespace === namespaceOf(candidate.template.owner)));
      return judgeTls(client, server) ?? { ...reached, message: `${reached.message}${server && commandLineSettings(server.container).get('ssl') === 'on' ? ', over TLS verify-full' : ''}` };
    });
  },
};
