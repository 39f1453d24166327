import * as k8s from './k8s';
import { Quantity } from './k8s';

/** A StatefulSet's storage settings, as the config gives them. */
export interface StorageSettings {
  readonly size: string;
  /** @default - the cluster's default StorageClass */
  readonly storageClassName?: string;
}

/** The one ReadWriteOnce claim per pod that holds a StatefulSet's data. */
export function dataVolumeClaimTemplate(labels: Record<string, string>, storage: StorageSettings): k8s.KubePersistentVolumeClaimProps {
  return {
    metadata: { name: 'data', labels },
    spec: {
      accessModes: ['ReadWriteOnce'],
      storageClassName: storage.storageClassName,
      resources: { requests: { storage: Quantity.fromString(storage.size) } },
    },
  };
}

/**
 * A StatefulSet whose claim templates are written as the API server stores them (apiVersion, kind,
 * volumeMode, status.phase). volumeClaimTemplates is an atomic list to kubectl's strategic merge (no
 * merge key), so any difference from the stored form makes every plain `kubectl apply` send the whole
 * list and print "configured", and GitOps tools show a perpetual diff. The typed props cannot carry
 * these fields (the L1 class drops unknown ones, JSON patches included), hence the override.
 */
export class DataStatefulSet extends k8s.KubeStatefulSet {
  public override toJson(): unknown {
    const json = super.toJson() as { spec: { volumeClaimTemplates: { spec: object }[] } };
    json.spec.volumeClaimTemplates = json.spec.volumeClaimTemplates.map((template) => ({
      apiVersion: 'v1',
      kind: 'PersistentVolumeClaim',
      ...template,
      spec: { ...template.spec, volumeMode: 'Filesystem' },
      status: { phase: 'Pending' },
    }));
    return json;
  }
}
