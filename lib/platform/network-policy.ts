import type { Construct } from 'constructs';
import * as k8s from './k8s';
import { IntOrString } from './k8s';

/** Pods a rule admits (ingress) or reaches (egress): by labels, in one namespace. Never a whole namespace. */
export interface Peer {
  /** The pods' namespace. @default - the policy's own namespace */
  readonly namespace?: string;
  /** Labels the pods carry. */
  readonly labels: Record<string, string>;
  /** Further label requirements, e.g. a value out of several. @default - none */
  readonly expressions?: readonly k8s.LabelSelectorRequirement[];
}

/** A port and its protocol. */
export interface PolicyPort {
  readonly port: number;
  /** @default 'TCP' */
  readonly protocol?: 'TCP' | 'UDP';
}

export interface AllowProps {
  readonly name: string;
  readonly namespace: string;
  readonly labels: Record<string, string>;
  /** The pods the policy is about: receiving (ingress) or sending (egress). */
  readonly podSelector: Record<string, string>;
  readonly ports: readonly (number | PolicyPort)[];
  /** Ingress: who may connect. Egress: what the pods may connect to. */
  readonly peers: readonly Peer[];
}

// The labels Dapr's sidecar injector puts on every pod it injects (dapr/dapr pkg/injector/patcher/sidecar_patcher.go
// lines 137-138 at commit d8450742, "dapr.io/sidecar-injected": "true" and "dapr.io/app-id": the pod's app-id;
// the names are pkg/injector/consts/consts.go lines 31-32). A pod without a sidecar has neither.
export const DAPR_SIDECAR_INJECTED_LABEL = 'dapr.io/sidecar-injected';
export const DAPR_APP_ID_LABEL = 'dapr.io/app-id';

/** The Dapr-injected pods of the given app-ids in a namespace: the LearnFlow services, not the code sandbox. */
export function daprAppPods(namespace: string, appIds: readonly string[]): Peer {
  return {
    namespace,
    labels: { [DAPR_SIDECAR_INJECTED_LABEL]: 'true' },
    expressions: [{ key: DAPR_APP_ID_LABEL, operator: 'In', values: [...appIds] }],
  };
}

// CoreDNS keeps the kube-dns Service's label (k8s-app: kube-dns) on kubeadm, minikube, kind, EKS, GKE and AKS.
const CLUSTER_DNS: Peer = { namespace: 'kube-system', labels: { 'k8s-app': 'kube-dns' } };
const DNS_PORTS: PolicyPort[] = [
  { port: 53, protocol: 'UDP' },
  { port: 53, protocol: 'TCP' },
];

/** Deny all ingress and all egress to and from every pod of a namespace; allow rules are added beside them. */
export function denyAll(scope: Construct, namespace: string, labels: Record<string, string>): void {
  for (const direction of ['Ingress', 'Egress'] as const) {
    new k8s.KubeNetworkPolicy(scope, `DenyAll${direction}-${namespace}`, {
      metadata: { name: `default-deny-${direction.toLowerCase()}`, namespace, labels },
      spec: { podSelector: {}, policyTypes: [direction] },
    });
  }
}

/** Every pod of the namespace may ask the cluster DNS (UDP and TCP 53, TCP for large answers), nothing else. */
export function allowDnsEgress(scope: Construct, namespace: string, labels: Record<string, string>): k8s.KubeNetworkPolicy {
  return new k8s.KubeNetworkPolicy(scope, `Dns-${namespace}`, {
    metadata: { name: 'allow-dns-egress', namespace, labels },
    spec: { podSelector: {}, policyTypes: ['Egress'], egress: [{ to: [peer(CLUSTER_DNS)], ports: DNS_PORTS.map(policyPort) }] },
  });
}

/** Allow ingress on the given ports to the selected pods, from the given pods only. */
export function allowIngress(scope: Construct, id: string, props: AllowProps): k8s.KubeNetworkPolicy {
  return allow(scope, id, 'Ingress', props);
}

/** Allow egress from the selected pods to the given pods on the given ports only. */
export function allowEgress(scope: Construct, id: string, props: AllowProps): k8s.KubeNetworkPolicy {
  return allow(scope, id, 'Egress', props);
}

function allow(scope: Construct, id: string, direction: 'Ingress' | 'Egress', props: AllowProps): k8s.KubeNetworkPolicy {
  const ports = props.ports.map(policyPort);
  const peers = props.peers.map(peer);
  return new k8s.KubeNetworkPolicy(scope, id, {
    metadata: { name: props.name, namespace: props.namespace, labels: props.labels },
    spec: {
      podSelector: { matchLabels: props.podSelector },
      policyTypes: [direction],
      ...(direction === 'Ingress' ? { ingress: [{ from: peers, ports }] } : { egress: [{ to: peers, ports }] }),
    },
  });
}

function peer({ namespace, labels, expressions }: Peer): k8s.NetworkPolicyPeer {
  const podSelector = { matchLabels: labels, ...(expressions ? { matchExpressions: [...expressions] } : {}) };
  // kubernetes.io/metadata.name is set by the API server on every namespace (1.22+): it cannot be spoofed.
  // Namespace and pod selector in one peer: the pods so labelled in that namespace, not the whole namespace.
  return namespace ? { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': namespace } }, podSelector } : { podSelector };
}

function policyPort(port: number | PolicyPort): k8s.NetworkPolicyPort {
  const { port: number, protocol = 'TCP' } = typeof port === 'number' ? { port } : port;
  return { protocol, port: IntOrString.fromNumber(number) };
}
