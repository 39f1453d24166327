import type { Construct } from 'constructs';
import * as k8s from './k8s';
import { IntOrString } from './k8s';

/** Where allowed traffic may come from: whole namespaces, or labelled pods of the policy's namespace. */
export interface IngressSources {
  /** Every pod of these namespaces. @default - none */
  readonly namespaces?: readonly string[];
  /** Pods of the policy's own namespace carrying these labels (one entry per pod kind). @default - none */
  readonly podsWithLabels?: readonly Record<string, string>[];
}

export interface AllowIngressProps {
  readonly name: string;
  readonly namespace: string;
  readonly labels: Record<string, string>;
  /** The pods receiving the traffic. */
  readonly podSelector: Record<string, string>;
  readonly ports: readonly number[];
  readonly from: IngressSources;
}

/** Deny all ingress to every pod of a namespace; allow rules are added beside it. */
export function denyAllIngress(scope: Construct, namespace: string, labels: Record<string, string>): k8s.KubeNetworkPolicy {
  return new k8s.KubeNetworkPolicy(scope, `DenyAll-${namespace}`, {
    metadata: { name: 'default-deny-ingress', namespace, labels },
    spec: { podSelector: {}, policyTypes: ['Ingress'] },
  });
}

/** Allow TCP ingress on the given ports to the selected pods, from the given sources only. */
export function allowIngress(scope: Construct, id: string, props: AllowIngressProps): k8s.KubeNetworkPolicy {
  const peers: k8s.NetworkPolicyPeer[] = [
    // kubernetes.io/metadata.name is set by the API server on every namespace (1.22+): it cannot be spoofed.
    ...(props.from.namespaces ?? []).map((name) => ({
      namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': name } },
    })),
    ...(props.from.podsWithLabels ?? []).map((labels) => ({ podSelector: { matchLabels: labels } })),
  ];
  return new k8s.KubeNetworkPolicy(scope, id, {
    metadata: { name: props.name, namespace: props.namespace, labels: props.labels },
    spec: {
      podSelector: { matchLabels: props.podSelector },
      policyTypes: ['Ingress'],
      ingress: [
        {
          from: peers,
          ports: props.ports.map((port) => ({ protocol: 'TCP', port: IntOrString.fromNumber(port) })),
        },
      ],
    },
  });
}

export interface AllowEgressProps {
  readonly name: string;
  readonly namespace: string;
  readonly labels: Record<string, string>;
  /** The pods whose outgoing traffic is limited. */
  readonly podSelector: Record<string, string>;
  /** Pods of the policy's namespace they may reach, and on which TCP ports. */
  readonly to: { readonly podSelector: Record<string, string>; readonly ports: readonly number[] };
}

/**
 * Limit the selected pods' egress to the given pods and to the cluster's DNS (kube-dns in kube-system,
 * the k8s-app label that kubeadm, minikube and the managed clusters' CoreDNS keep for compatibility).
 */
export function allowEgress(scope: Construct, id: string, props: AllowEgressProps): k8s.KubeNetworkPolicy {
  const dnsPorts = ['UDP', 'TCP'].map((protocol) => ({ protocol, port: IntOrString.fromNumber(53) }));
  return new k8s.KubeNetworkPolicy(scope, id, {
    metadata: { name: props.name, namespace: props.namespace, labels: props.labels },
    spec: {
      podSelector: { matchLabels: props.podSelector },
      policyTypes: ['Egress'],
      egress: [
        {
          to: [{ podSelector: { matchLabels: props.to.podSelector } }],
          ports: props.to.ports.map((port) => ({ protocol: 'TCP', port: IntOrString.fromNumber(port) })),
        },
        {
          to: [
            {
              namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'kube-system' } },
              podSelector: { matchLabels: { 'k8s-app': 'kube-dns' } },
            },
          ],
          ports: dnsPorts,
        },
      ],
    },
  });
}
