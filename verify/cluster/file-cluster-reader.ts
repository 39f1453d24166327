import * as fs from 'node:fs';
import * as path from 'node:path';
import * as yaml from 'js-yaml';
import type { K8sObject } from '../model';
import { type ClusterKind, type ClusterReader, ClusterUnavailableError } from './cluster-reader';

/**
 * A cluster state read from YAML files: every *.yaml under a directory, each document an object or a
 * List (what `kubectl get -A -o yaml` prints). Tests use it for healthy and broken states.
 */
export class FileClusterReader implements ClusterReader {
  readonly description: string;
  private readonly objects: K8sObject[];

  constructor(dir: string) {
    if (!fs.existsSync(dir)) throw new ClusterUnavailableError(`cluster state directory ${dir} does not exist`);
    this.description = `cluster state files in ${dir}`;
    this.objects = fs
      .readdirSync(dir)
      .filter((name) => /\.ya?ml$/.test(name))
      .sort()
      .flatMap((name) => readDocuments(path.join(dir, name)))
      .flatMap((document) => (document?.kind === 'List' || document?.kind?.endsWith('List') ? (document.items ?? []) : [document]))
      .filter((document): document is K8sObject => Boolean(document?.kind && document.metadata?.name));
  }

  async list(kind: ClusterKind, namespace?: string): Promise<K8sObject[]> {
    return this.objects.filter((object) => object.kind === kind && (namespace === undefined || object.metadata.namespace === namespace));
  }
}

/** The documents of one file; a file that is not YAML is "could not check", naming it (js-yaml's reason, first line). */
function readDocuments(file: string): K8sObject[] {
  try {
    return yaml.loadAll(fs.readFileSync(file, 'utf8')) as K8sObject[];
  } catch (error) {
    throw new ClusterUnavailableError(`cluster state file ${file} cannot be read: ${(error as Error).message.split('\n', 1)[0]}`);
  }
}
