import * as fs from 'node:fs';
import * as path from 'node:path';
import type { ClusterReader } from './cluster/cluster-reader';
import type { Dist } from './dist';
import { crdFilesIn, SchemaValidators } from './schema/schemas';

/**
 * The reference data of ../shared/reference: Kubernetes definitions, Dapr CRDs, Dapr component metadata.
 * Loaded on first use, so checks that do not need it (and --help) stay fast.
 */
// Compiled validators per reference directory: a process that verifies several trees (tests, a future
// watch mode) compiles the schemas once.
const validatorsByDir = new Map<string, SchemaValidators>();

export class ReferenceData {
  constructor(readonly dir: string) {}

  get kubernetesDefinitionsFile(): string {
    return path.join(this.dir, 'k8s-schema-1.28', '_definitions.json');
  }

  get daprCrdDir(): string {
    return path.join(this.dir, 'dapr-crds');
  }

  get daprComponentMetadataDir(): string {
    return path.join(this.dir, 'dapr-component-metadata');
  }

  /** Throws a MissingReferenceError naming the file when the directory lacks the definitions. */
  schemas(): SchemaValidators {
    let validators = validatorsByDir.get(this.dir);
    if (!validators) {
      if (!fs.existsSync(this.kubernetesDefinitionsFile)) {
        throw new MissingReferenceError(`${this.kubernetesDefinitionsFile} not found; pass --reference <dir>`);
      }
      validators = new SchemaValidators(this.kubernetesDefinitionsFile, crdFilesIn(this.daprCrdDir));
      validatorsByDir.set(this.dir, validators);
    }
    return validators;
  }
}

export class MissingReferenceError extends Error {}

export interface StaticContext {
  readonly dist: Dist;
  readonly reference: ReferenceData;
}

export interface LiveContext extends StaticContext {
  readonly cluster: ClusterReader;
}
