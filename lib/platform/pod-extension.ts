import type * as k8s from './k8s';
import type { WritablePath } from './pod-security';

/**
 * What another concern adds to a workload's pods without owning it (lib/observability's metrics agent in
 * every Kafka pod): the owner merges it into its pod template, counting the writable paths in the main
 * container's ephemeral storage like its own.
 */
export interface PodExtension {
  readonly initContainers: readonly k8s.Container[];
  /** Added to the main container's environment. */
  readonly env: readonly k8s.EnvVar[];
  /**
   * JVM options for the workload's own server process only, not for the tools its image runs before it
   * (a Java agent). The owner says how its image takes them.
   */
  readonly serverJvmOptions: readonly string[];
  readonly ports: readonly k8s.ContainerPort[];
  /** emptyDirs mounted in the main container (and, by name, in the init containers). */
  readonly writablePaths: readonly WritablePath[];
  /** Further volumes (ConfigMaps) and where the main container mounts them. */
  readonly volumes: readonly k8s.Volume[];
  readonly volumeMounts: readonly k8s.VolumeMount[];
}
