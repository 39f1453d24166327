import type { Dist } from './dist';
import type { DistObject, ObjectRef } from './model';
import { refOf } from './model';
import { containersOf, namespaceOf, objectsOfKind, podTemplates } from './workloads';

// A small NetworkPolicy evaluator (networking.k8s.io/v1 semantics, kubernetes.io/docs/concepts/services-networking/
// network-policies): traffic from A to B on a port flows when A's egress and B's ingress both allow it. A pod that
// no policy of its namespace selects for a direction is open in that direction; once one selects it, only the
// union of the selecting policies' rules is allowed. The verifier judges hand-edited YAML, so anything it cannot
// evaluate exactly errs towards "reachable": an ipBlock is taken to contain every pod and every address.

/** A port traffic goes to: a container port of the destination, or a probe port of an imagined one. */
export interface Port {
  readonly port: number;
  readonly protocol: string;
  /** The container port's name, which a policy may use instead of the number. */
  readonly name?: string;
}

/** One side of a connection: a pod of dist/, an imagined pod ("an unlabelled pod in the apps namespace"), or an address outside the cluster. */
export interface Endpoint {
  readonly description: string;
  readonly namespace: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly ports: readonly Port[];
  /** An address outside the cluster's pods: only an ipBlock, or a rule without peers, matches it. */
  readonly external?: boolean;
  /** The workload in dist/ whose pods these are. */
  readonly owner?: DistObject;
  /** Long-running (StatefulSet, Deployment, ...) rather than a Job's pod. */
  readonly longRunning?: boolean;
}

interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: { key: string; operator: string; values?: string[] }[];
}

interface PolicyPeer {
  podSelector?: LabelSelector;
  namespaceSelector?: LabelSelector;
  ipBlock?: unknown;
}

interface PolicyRule {
  from?: PolicyPeer[];
  to?: PolicyPeer[];
  ports?: { port?: number | string; endPort?: number; protocol?: string }[];
}

type Direction = 'Ingress' | 'Egress';

/** Whether labels satisfy a selector; an empty selector selects everything, an absent one nothing is decided here. */
export function selectorMatches(selector: LabelSelector, labels: Readonly<Record<string, string>>): boolean {
  const matchLabels = Object.entries(selector.matchLabels ?? {}).every(([key, value]) => labels[key] === value);
  const matchExpressions = (selector.matchExpressions ?? []).every(({ key, operator, values = [] }) => {
    const has = Object.hasOwn(labels, key);
    switch (operator) {
      case 'In':
        return has && values.includes(labels[key]);
      case 'NotIn':
        return !has || !values.includes(labels[key]);
      case 'Exists':
        return has;
      case 'DoesNotExist':
        return !has;
      default:
        return false;
    }
  });
  return matchLabels && matchExpressions;
}

/** The pods of dist/ (one endpoint per workload) and the policies that govern them. */
export class NetworkModel {
  private readonly policies: DistObject[];
  private readonly namespaceLabels = new Map<string, Record<string, string>>();

  constructor(private readonly dist: Dist) {
    this.policies = objectsOfKind(dist, 'NetworkPolicy');
    for (const namespace of objectsOfKind(dist, 'Namespace')) {
      const name = namespace.object.metadata.name;
      this.namespaceLabels.set(name, { ...(namespace.object.metadata.labels ?? {}), 'kubernetes.io/metadata.name': name });
    }
  }

  /** Every workload's pods, with the ports their containers declare. */
  pods(): Endpoint[] {
    return podTemplates(this.dist).map((template) => ({
      description: `${template.owner.object.kind.toLowerCase()}/${template.owner.object.metadata.name} in ${namespaceOf(template.owner)}`,
      namespace: namespaceOf(template.owner),
      labels: template.labels,
      ports: containersOf(template).flatMap(({ container }) =>
        ((container.ports ?? []) as { containerPort?: number; name?: string; protocol?: string }[])
          .filter((port) => typeof port?.containerPort === 'number')
          .map((port) => ({ port: port.containerPort as number, protocol: port.protocol ?? 'TCP', name: port.name })),
      ),
      owner: template.owner,
      longRunning: template.longRunning,
    }));
  }

  /** Whether a connection from `source` to `destination` on `port` is allowed by both sides' policies. */
  allows(source: Endpoint, destination: Endpoint, port: Port): boolean {
    return this.allowedBy('Egress', source, destination, port) && this.allowedBy('Ingress', destination, source, port);
  }

  /** The destination's ports the source reaches. */
  reachablePorts(source: Endpoint, destination: Endpoint): Port[] {
    return destination.ports.filter((port) => this.allows(source, destination, port));
  }

  /** The policies of a pod's namespace that select it for a direction. */
  selecting(direction: Direction, pod: Endpoint): DistObject[] {
    if (pod.external) return [];
    return this.policies.filter((policy) => {
      const { spec } = policy.object;
      return namespaceOf(policy) === pod.namespace && policyTypes(spec ?? {}).includes(direction) && selectorMatches(spec?.podSelector ?? {}, pod.labels);
    });
  }

  /** `subject`'s side of the connection: may it receive from (Ingress) or send to (Egress) `peer` on `port`? */
  private allowedBy(direction: Direction, subject: Endpoint, peer: Endpoint, port: Port): boolean {
    // An address outside the cluster has no policies: only the pod's side decides.
    if (subject.external) return true;
    const policies = this.selecting(direction, subject);
    if (policies.length === 0) return true;
    const destination = direction === 'Ingress' ? subject : peer;
    return policies.some((policy) =>
      ((direction === 'Ingress' ? policy.object.spec?.ingress : policy.object.spec?.egress) ?? ([] as PolicyRule[])).some(
        (rule: PolicyRule) => this.ruleAdmits(rule, direction, namespaceOf(policy), peer) && portMatches(rule, port, destination),
      ),
    );
  }

  private ruleAdmits(rule: PolicyRule, direction: Direction, policyNamespace: string, peer: Endpoint): boolean {
    const peers = direction === 'Ingress' ? rule.from : rule.to;
    // No from/to (or an empty list): every source or destination, outside the cluster too.
    if (!peers || peers.length === 0) return true;
    return peers.some((candidate) => this.peerMatches(candidate, policyNamespace, peer));
  }

  private peerMatches(candidate: PolicyPeer, policyNamespace: string, peer: Endpoint): boolean {
    if (candidate.ipBlock) return true;
    if (peer.external) return false;
    const namespaceMatches = candidate.namespaceSelector
      ? selectorMatches(candidate.namespaceSelector, this.namespaceLabels.get(peer.namespace) ?? { 'kubernetes.io/metadata.name': peer.namespace })
      : peer.namespace === policyNamespace;
    return namespaceMatches && selectorMatches(candidate.podSelector ?? {}, peer.labels);
  }
}

function policyTypes(spec: { policyTypes?: string[]; egress?: unknown }): string[] {
  // Without policyTypes: Ingress always, Egress when the policy has egress rules.
  return spec.policyTypes ?? ['Ingress', ...(spec.egress ? ['Egress'] : [])];
}

function portMatches(rule: PolicyRule, port: Port, destination: Endpoint): boolean {
  if (!rule.ports || rule.ports.length === 0) return true;
  return rule.ports.some((allowed) => {
    if ((allowed.protocol ?? 'TCP') !== port.protocol) return false;
    if (allowed.port === undefined) return true;
    if (typeof allowed.port === 'string') {
      // A named port means the destination's container port of that name.
      return destination.ports.some((own) => own.name === allowed.port && own.port === port.port);
    }
    return allowed.endPort !== undefined ? port.port >= allowed.port && port.port <= allowed.endPort : port.port === allowed.port;
  });
}

/** A short form of a port for messages: 5432/TCP. */
export function formatPort(port: Port): string {
  return `${port.port}/${port.protocol}${port.name ? ` (${port.name})` : ''}`;
}

export function endpointRef(endpoint: Endpoint): ObjectRef[] {
  return endpoint.owner ? [refOf(endpoint.owner)] : [];
}
