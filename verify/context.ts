import * as fs from 'node:fs';
import * as path from 'node:path';
import { type ComponentMetadataCatalog, loadComponentMetadata } from '../lib/dapr/component-metadata';
import type { ClusterReader } from './cluster/cluster-reader';
import type { Dist } from './dist';
import { crdFilesIn, fromReference, ReferenceDataError, SchemaValidators } from './schema/schemas';

/** The Kubernetes API version objects are judged against (the version of cdk8s-plus-28's classes). */
export const KUBERNETES_VERSION = '1.28';

/**
 * The reference data: Kubernetes definitions, Dapr CRDs, Dapr component metadata (the project's
 * reference/ unless --reference names another directory laid out the same way). Loaded on first use,
 * so checks that do not need it (and --help) stay fast. What cannot be read is a ReferenceDataError.
 */
// Compiled validators per reference directory: a process that verifies several trees (tests, a future
// watch mode) compiles the schemas once.
const validatorsByDir = new Map<string, SchemaValidators>();

export class ReferenceData {
  constructor(readonly dir: string) {}

  kubernetesDefinitionsFile(version: string = KUBERNETES_VERSION): string {
    return path.join(this.dir, `k8s-schema-${version}`, '_definitions.json');
  }

  get daprCrdDir(): string {
    return path.join(this.dir, 'dapr-crds');
  }

  /** prometheus-operator's CRDs: the PodMonitor and PrometheusRule objects of observability. */
  get prometheusOperatorCrdDir(): string {
    return path.join(this.dir, 'prometheus-operator-crds');
  }

  /** cert-manager's CRDs: the Certificate and Issuer objects of PostgreSQL's TLS. */
  get certManagerCrdDir(): string {
    return path.join(this.dir, 'cert-manager-crds');
  }

  get daprComponentMetadataDir(): string {
    return path.join(this.dir, 'dapr-component-metadata');
  }

  schemas(): SchemaValidators {
    let validators = validatorsByDir.get(this.dir);
    if (!validators) {
      const definitions = this.kubernetesDefinitionsFile();
      if (!fs.existsSync(definitions)) throw new ReferenceDataError(`${definitions} not found`);
      const crdFiles = crdFilesIn(this.daprCrdDir);
      if (crdFiles.length === 0) throw new ReferenceDataError(`no Dapr CRD files (*.yaml) in ${this.daprCrdDir}`);
      // Optional (a reference directory from before they were vendored still judges everything else):
      // prometheus-operator's PodMonitor and PrometheusRule (dist/ holds them when observability is on) and
      // cert-manager's Certificate and Issuer (PostgreSQL's TLS).
      const optionalCrdFiles = [this.prometheusOperatorCrdDir, this.certManagerCrdDir].flatMap((dir) => (fs.existsSync(dir) ? crdFilesIn(dir) : []));
      validators = new SchemaValidators(definitions, [...crdFiles, ...optionalCrdFiles]);
      validatorsByDir.set(this.dir, validators);
    }
    return validators;
  }

  componentMetadata(): ComponentMetadataCatalog {
    if (!fs.existsSync(this.daprComponentMetadataDir)) throw new ReferenceDataError(`${this.daprComponentMetadataDir} not found`);
    return fromReference(this.daprComponentMetadataDir, () => loadComponentMetadata(this.daprComponentMetadataDir));
  }
}

export interface StaticContext {
  readonly dist: Dist;
  readonly reference: ReferenceData;
}

export interface LiveContext extends StaticContext {
  readonly cluster: ClusterReader;
}
