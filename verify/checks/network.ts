import type { StaticContext } from '../context';
import type { Dist } from '../dist';
import { type Check, type CheckResult, fail, pass, skip } from '../model';
import { type Endpoint, endpointRef, formatPort, NetworkModel, type Port, selectorMatches } from '../network-reachability';
import { namespaceOf, objectsOfKind } from '../workloads';
import { daprComponents } from './references';

// Dapr's injector labels (dapr/dapr pkg/injector/patcher/sidecar_patcher.go; lib/platform/network-policy.ts).
const SIDECAR_INJECTED = 'dapr.io/sidecar-injected';
const APP_ID = 'dapr.io/app-id';

/** Ports a probe of an imagined destination tries: DNS, HTTPS, HTTP and the ports of dist/'s pods. */
const PROBE_PORTS: Port[] = [
  { port: 53, protocol: 'UDP' },
  { port: 53, protocol: 'TCP' },
  { port: 443, protocol: 'TCP' },
  { port: 80, protocol: 'TCP' },
];

/** The pods who may and may not connect, imagined beside those of dist/. */
export interface ImaginedPods {
  /** An unlabelled pod of the apps namespace: LearnFlow runs untrusted student code there. */
  readonly sandbox: Endpoint;
  /** A pod of a namespace dist/ knows nothing of. */
  readonly stranger: Endpoint;
  /** A LearnFlow service's pod with its Dapr sidecar, as the injector labels it. */
  readonly daprApp?: Endpoint;
  /** The cluster DNS. */
  readonly dns: Endpoint;
  /** An address outside the cluster. */
  readonly internet: Endpoint;
}

/** The apps namespace and app-ids, from the Dapr Components of dist/. */
function daprScope(dist: Dist): { namespace?: string; appIds: string[] } {
  const components = daprComponents(dist);
  const appIds = [...new Set(components.flatMap((component) => (component.object.scopes ?? []) as string[]))].filter((id) => typeof id === 'string');
  return { namespace: components[0] && namespaceOf(components[0]), appIds };
}

export function imaginedPods(dist: Dist, allPorts: readonly Port[]): ImaginedPods {
  const { namespace = 'default', appIds } = daprScope(dist);
  const ports = [...PROBE_PORTS, ...allPorts];
  return {
    sandbox: { description: `an unlabelled pod in ${namespace} (the code sandbox)`, namespace, labels: {}, ports },
    stranger: { description: 'an unlabelled pod in another namespace', namespace: 'learnflow-verify-elsewhere', labels: {}, ports },
    daprApp: appIds[0]
      ? { description: `a Dapr-injected pod of app-id ${appIds[0]} in ${namespace}`, namespace, labels: { [SIDECAR_INJECTED]: 'true', [APP_ID]: appIds[0] }, ports }
      : undefined,
    dns: { description: 'the cluster DNS (kube-system, k8s-app=kube-dns)', namespace: 'kube-system', labels: { 'k8s-app': 'kube-dns' }, ports: PROBE_PORTS.slice(0, 2) },
    internet: { description: 'an address outside the cluster', namespace: '', labels: {}, ports, external: true },
  };
}

/** A Service's ports resolved to the pods it selects: what a client of the Service reaches. */
interface ServiceTarget {
  readonly service: string;
  readonly host: string;
  readonly pods: Endpoint[];
  readonly ports: Port[];
  readonly headless: boolean;
}

function serviceTargets(dist: Dist, pods: readonly Endpoint[]): ServiceTarget[] {
  return objectsOfKind(dist, 'Service').flatMap((item) => {
    const { spec, metadata } = item.object;
    const namespace = namespaceOf(item);
    const selector = spec?.selector as Record<string, string> | undefined;
    if (!selector) return [];
    const selected = pods.filter((pod) => pod.namespace === namespace && selectorMatches({ matchLabels: selector }, pod.labels));
    const ports = ((spec?.ports ?? []) as { targetPort?: number | string; port?: number; protocol?: string }[]).flatMap((servicePort) => {
      const target = servicePort.targetPort ?? servicePort.port;
      const protocol = servicePort.protocol ?? 'TCP';
      return selected.flatMap((pod) => pod.ports.filter((own) => own.protocol === protocol && (own.name === target || own.port === target)));
    });
    const unique = [...new Map(ports.map((port) => [`${port.port}/${port.protocol}`, port])).values()];
    return [{ service: `${namespace}/${metadata.name}`, host: `${metadata.name}.${namespace}.svc`, pods: selected, ports: unique, headless: spec?.clusterIP === 'None' }];
  });
}

/** Ports of the endpoint document's `kubectl port-forward -n <ns> pod/<pod> <local>:<remote>` lines: namespace, pod name, remote port. */
function portForwardTargets(dist: Dist): { namespace: string; pod: string; port: number }[] {
  const text = Object.values(dist.documents).join('\n');
  return [...text.matchAll(/kubectl port-forward -n (\S+) pod\/(\S+) \d+:(\d+)/g)].map((match) => ({ namespace: match[1], pod: match[2], port: Number(match[3]) }));
}

const listReached = (model: NetworkModel, source: Endpoint, destinations: readonly Endpoint[]) =>
  destinations.flatMap((destination) => {
    const reached = model.reachablePorts(source, destination);
    return reached.length > 0 ? [`${destination.description} on ${reached.map(formatPort).join(', ')}`] : [];
  });

export const networkReachability: Check<StaticContext> = {
  id: 'network-reachability',
  description:
    'the NetworkPolicies of dist/, evaluated: the code sandbox and other namespaces reach no Kafka or PostgreSQL pod, Dapr-injected app pods reach the client ports (only those), the Jobs and the exporter reach the Services they name, nobody reaches a port-forward-only port, the pods of the data namespaces reach only their peers and DNS, and the metrics scraper reaches the metrics ports only',
  component: 'platform',
  remediation: 'admit the clients by the labels Dapr injects (dapr.io/sidecar-injected, dapr.io/app-id) or the Jobs carry, never a whole namespace; deny egress by default and allow DNS and the peers by port',
  run: ({ dist }) => {
    const model = new NetworkModel(dist);
    const pods = model.pods();
    const { namespace: appsNamespace } = daprScope(dist);
    const dataPods = pods.filter((pod) => pod.longRunning && pod.namespace !== appsNamespace);
    if (dataPods.length === 0) return [skip('no long-running pods outside the apps namespace in dist/')];
    const imagined = imaginedPods(
      dist,
      pods.flatMap((pod) => pod.ports),
    );
    const services = serviceTargets(dist, pods);
    const clientServices = services.filter((service) => !service.headless && service.pods.some((pod) => dataPods.includes(pod)));
    const results: CheckResult[] = [];

    // 1. Untrusted and unknown pods reach no data pod at all.
    for (const outsider of [imagined.sandbox, imagined.stranger]) {
      const reached = listReached(model, outsider, dataPods);
      results.push(
        reached.length === 0
          ? pass([], `${outsider.description} reaches no pod of ${[...new Set(dataPods.map((pod) => pod.namespace))].join(', ')}`)
          : fail(dataPods.flatMap(endpointRef), `${outsider.description} reaches ${reached.join('; ')}`),
      );
    }

    // 2. A LearnFlow service's pod reaches every client port, and nothing else of the data pods.
    if (imagined.daprApp) {
      const app = imagined.daprApp;
      const missing = clientServices.flatMap((service) =>
        service.pods.flatMap((pod) => service.ports.filter((port) => pod.ports.includes(port) && !model.allows(app, pod, port)).map((port) => `${service.service} -> ${pod.description} ${formatPort(port)}`)),
      );
      const clientPorts = new Set(clientServices.flatMap((service) => service.ports.map((port) => `${port.port}/${port.protocol}`)));
      const extra = dataPods.flatMap((pod) =>
        model.reachablePorts(app, pod).filter((port) => !clientPorts.has(`${port.port}/${port.protocol}`)).map((port) => `${pod.description} ${formatPort(port)}`),
      );
      results.push(
        missing.length === 0 && extra.length === 0
          ? pass([], `${app.description} reaches the client ports ${[...clientPorts].join(', ')} and no other port of the data pods`)
          : fail(
              dataPods.flatMap(endpointRef),
              [missing.length > 0 ? `${app.description} cannot reach ${missing.join('; ')}` : '', extra.length > 0 ? `it reaches more than the client ports: ${extra.join('; ')}` : '']
                .filter(Boolean)
                .join('; '),
            ),
      );
    }

    // 3. Each Job and Deployment (postgres_exporter) reaches every port of the Services its pod template names.
    for (const job of pods.filter((pod) => !pod.longRunning || pod.owner?.object.kind === 'Deployment')) {
      const template = JSON.stringify(job.owner?.object.spec ?? {});
      const named = services.filter((service) => template.includes(service.host));
      const blocked = named.flatMap((service) =>
        service.pods.flatMap((pod) => service.ports.filter((port) => pod.ports.includes(port) && !model.allows(job, pod, port)).map((port) => `${service.service} (${pod.description} ${formatPort(port)})`)),
      );
      if (named.length === 0) continue;
      results.push(
        blocked.length === 0
          ? pass(endpointRef(job), `${job.description} reaches ${named.map((service) => service.service).join(', ')}`)
          : fail(endpointRef(job), `${job.description} cannot reach ${blocked.join('; ')}`),
      );
    }

    // 4. A port only `kubectl port-forward` uses (no Service targets it) is reached by no pod.
    const servicePorts = new Set(services.flatMap((service) => service.pods.flatMap((pod) => service.ports.map((port) => `${pod.description}|${port.port}`))));
    for (const target of portForwardTargets(dist)) {
      const pod = dataPods.find((candidate) => candidate.namespace === target.namespace && target.pod.startsWith(`${candidate.owner?.object.metadata.name}-`));
      const port = pod?.ports.find((own) => own.port === target.port);
      if (!pod || !port || servicePorts.has(`${pod.description}|${port.port}`)) continue;
      const sources = [...pods, imagined.sandbox, imagined.stranger, ...(imagined.daprApp ? [imagined.daprApp] : [])];
      const reaching = sources.filter((source) => model.allows(source, pod, port)).map((source) => source.description);
      results.push(
        reaching.length === 0
          ? pass(endpointRef(pod), `the port-forward port ${formatPort(port)} of ${pod.description} is reached by no pod (kubectl port-forward enters the pod itself)`)
          : fail(endpointRef(pod), `the port-forward port ${formatPort(port)} of ${pod.description} is reached by ${reaching.join(', ')}`),
      );
    }

    // 5. The egress of every pod of the data namespaces (the Jobs too): DNS and the pods of their own namespace, nothing else.
    const dataNamespaces = new Set(dataPods.map((pod) => pod.namespace));
    for (const pod of pods.filter((candidate) => dataNamespaces.has(candidate.namespace))) {
      const outside = [imagined.internet, imagined.sandbox, imagined.stranger, ...pods.filter((other) => other.namespace !== pod.namespace)];
      const leaks = listReached(model, pod, outside);
      const dns = model.reachablePorts(pod, imagined.dns);
      results.push(
        leaks.length === 0 && dns.length === 2
          ? pass(endpointRef(pod), `${pod.description} reaches only the cluster DNS and pods of ${pod.namespace}`)
          : fail(
              endpointRef(pod),
              [leaks.length > 0 ? `${pod.description} reaches ${leaks.join('; ')}` : '', dns.length < 2 ? `${pod.description} cannot ask the cluster DNS on UDP and TCP 53` : '']
                .filter(Boolean)
                .join('; '),
            ),
      );
    }
    // 6. The metrics scraper (Prometheus, outside dist/) reaches every port a PodMonitor scrapes, and no other port of the data pods.
    const scraper = scraperOf(dist);
    const scraped = scrapeTargets(dist, pods);
    if (scraper && scraped.length > 0) {
      const missing = scraped.filter(({ pod, port }) => !model.allows(scraper, pod, port)).map(({ pod, port }) => `${pod.description} ${formatPort(port)}`);
      const wanted = new Set(scraped.map(({ pod, port }) => `${pod.description}|${port.port}/${port.protocol}`));
      const extra = dataPods.flatMap((pod) =>
        model.reachablePorts(scraper, pod).filter((port) => !wanted.has(`${pod.description}|${port.port}/${port.protocol}`)).map((port) => `${pod.description} ${formatPort(port)}`),
      );
      results.push(
        missing.length === 0 && extra.length === 0
          ? pass(scraped.flatMap(({ pod }) => endpointRef(pod)), `${scraper.description} reaches the metrics ports (${scraped.map(({ pod, port }) => `${pod.description} ${formatPort(port)}`).join(', ')}) and no other port of the data pods`)
          : fail(
              dataPods.flatMap(endpointRef),
              [missing.length > 0 ? `${scraper.description} cannot reach ${missing.join('; ')}` : '', extra.length > 0 ? `it reaches more than the metrics ports: ${extra.join('; ')}` : '']
                .filter(Boolean)
                .join('; '),
            ),
      );
    }
    return results;
  },
};

/**
 * The scraper, as the NetworkPolicies admitting it describe it: a peer with both a namespace and a pod selector
 * in a policy that names the namespace as a prerequisite (learnflow.dev/prerequisite-namespace; the Prometheus
 * install is not part of dist/).
 */
function scraperOf(dist: Dist): Endpoint | undefined {
  for (const policy of objectsOfKind(dist, 'NetworkPolicy')) {
    const namespace = policy.object.metadata.annotations?.['learnflow.dev/prerequisite-namespace'];
    if (!namespace) continue;
    const peers = ((policy.object.spec?.ingress ?? []) as { from?: { podSelector?: { matchLabels?: Record<string, string> } }[] }[]).flatMap((rule) => rule.from ?? []);
    const labels = peers.find((peer) => peer.podSelector?.matchLabels)?.podSelector?.matchLabels;
    if (labels) return { description: `the metrics scraper (${Object.entries(labels).map(([key, value]) => `${key}=${value}`).join(', ')} in ${namespace})`, namespace, labels, ports: PROBE_PORTS };
  }
  return undefined;
}

/** The pods and ports the PodMonitors of dist/ scrape (the port by name, as podMetricsEndpoints give it). */
function scrapeTargets(dist: Dist, pods: readonly Endpoint[]): { pod: Endpoint; port: Port }[] {
  return dist.objects
    .filter((item) => item.object.kind === 'PodMonitor')
    .flatMap((monitor) => {
      const { spec } = monitor.object;
      const namespaces: string[] = spec?.namespaceSelector?.matchNames ?? [namespaceOf(monitor)];
      const names = ((spec?.podMetricsEndpoints ?? []) as { port?: string }[]).map((endpoint) => endpoint.port);
      return pods
        .filter((pod) => namespaces.includes(pod.namespace) && selectorMatches(spec?.selector ?? {}, pod.labels))
        .flatMap((pod) => pod.ports.filter((port) => names.includes(port.name)).map((port) => ({ pod, port })));
    });
}
