import type * as k8s from './k8s';
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
