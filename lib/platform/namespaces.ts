import { Construct } from 'constructs';
import type { PlatformConfig } from '../config/schema';
import * as k8s from './k8s';
import { appLabels, PROFILE_LABEL } from './labels';

export interface NamespacesProps {
  readonly platform: PlatformConfig;
  /** The profile synthesized with, carried as the PROFILE_LABEL of every Namespace. */
  readonly profile: string;
}

/** The namespaces, each enforcing Pod Security "restricted" (and auditing and warning on it too). */
export class Namespaces extends Construct {
  public readonly names: readonly string[];

  constructor(scope: Construct, id: string, props: NamespacesProps) {
    super(scope, id);
    const { namespaces, podSecurityVersion } = props.platform;
    this.names = [namespaces.kafka, namespaces.postgres, namespaces.apps];
    for (const name of this.names) {
      const podSecurity: Record<string, string> = {};
      for (const mode of ['enforce', 'audit', 'warn']) {
        podSecurity[`pod-security.kubernetes.io/${mode}`] = 'restricted';
        podSecurity[`pod-security.kubernetes.io/${mode}-version`] = podSecurityVersion;
      }
      new k8s.KubeNamespace(this, name, {
        metadata: {
          name,
          // Deleting the Argo CD Application must not delete the namespace, and with it the data PVCs
          // that the StatefulSets' Retain policy keeps.
          annotations: { 'argocd.argoproj.io/sync-options': 'Delete=false' },
          labels: { ...appLabels(name, 'namespace'), 'kubernetes.io/metadata.name': name, [PROFILE_LABEL]: props.profile, ...podSecurity },
        },
      });
    }
  }
}
