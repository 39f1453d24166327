import * as fs from 'node:fs';
import * as path from 'node:path';
import * as yaml from 'js-yaml';
import type { K8sObject } from '../../support/synth';
import type { SecretStore } from '../postgres/job-pod';

// How the dapr-components program (main.go) is given the synthesized Components outside a cluster: a
// resources directory with the Components and, for each secret store their auth.secretStore names, the
// local file secret store holding the Secrets they reference. The seam: Kubernetes' secret store
// becomes the file one, and the values are the caller's (addresses rewritten to loopback).

/** Writes `components` and their file secret stores into `dir` (daprd's --resources-path); returns `dir`. */
export function writeDaprResources(dir: string, components: readonly K8sObject[], secrets: SecretStore): string {
  const secretsFile = path.join(dir, 'secrets.json');
  const referenced = new Set(components.flatMap((c: any) => (c.spec.metadata as any[]).flatMap((item) => item.secretKeyRef?.name ?? [])));
  fs.writeFileSync(secretsFile, JSON.stringify(Object.fromEntries([...referenced].map((name) => [name, secrets[name]]))), { mode: 0o600 });
  const storeNames = new Set(components.map((c: any) => c.auth?.secretStore).filter(Boolean));
  const fileStores = [...storeNames].map((name) => ({
    apiVersion: 'dapr.io/v1alpha1',
    kind: 'Component',
    metadata: { name, namespace: components[0]?.metadata.namespace },
    spec: {
      type: 'secretstores.local.file',
      version: 'v1',
      // multiValued: a secret name maps to its keys, as a Kubernetes Secret does.
      metadata: [
        { name: 'secretsFile', value: secretsFile },
        { name: 'multiValued', value: 'true' },
      ],
    },
  }));
  fs.writeFileSync(path.join(dir, 'components.yaml'), [...components, ...fileStores].map((o) => yaml.dump(o)).join('---\n'));
  return dir;
}
