import * as fs from 'node:fs';
import * as path from 'node:path';
import * as yaml from 'js-yaml';
import type { DistObject, K8sObject } from './model';

/** dist/ as the verifier sees it: every object with its file, and the other files by name. */
export interface Dist {
  readonly dir: string;
  /** Every file name in the directory, sorted the way `kubectl apply -f dir/` walks them. */
  readonly fileNames: readonly string[];
  readonly objects: readonly DistObject[];
  /** Files that are not manifests (e.g. infra-endpoints.txt), name -> content. */
  readonly documents: Readonly<Record<string, string>>;
  /** YAML documents that are not Kubernetes objects: findings for the schema check, not a reason to stop. */
  readonly malformed: readonly MalformedDocument[];
}

export interface MalformedDocument {
  readonly file: string;
  readonly index: number;
  readonly reason: string;
}

export class DistError extends Error {}

// kubectl apply -f <dir> reads these extensions and ignores everything else.
const MANIFEST_EXTENSIONS = ['.yaml', '.yml', '.json'];

export function isManifestFile(name: string): boolean {
  return MANIFEST_EXTENSIONS.includes(path.extname(name));
}

export function loadDist(dir: string): Dist {
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) {
    throw new DistError(`${dir} is not a directory; run \`npm run synth\` first or pass --dist <dir>`);
  }
  // kubectl sorts by name with a plain byte comparison, not a locale-aware one.
  const fileNames = fs.readdirSync(dir).filter((name) => fs.statSync(path.join(dir, name)).isFile()).sort(byteOrder);
  const objects: DistObject[] = [];
  const documents: Record<string, string> = {};
  const malformed: MalformedDocument[] = [];
  for (const file of fileNames) {
    const content = fs.readFileSync(path.join(dir, file), 'utf8');
    if (!isManifestFile(file)) {
      documents[file] = content;
      continue;
    }
    let parsed: unknown[];
    try {
      parsed = yaml.loadAll(content);
    } catch (error) {
      malformed.push({ file, index: 0, reason: `not valid YAML: ${(error as Error).message.split('\n')[0]}` });
      continue;
    }
    parsed.forEach((document, index) => {
      if (document === null || document === undefined) return;
      if (isObjectEnvelope(document)) objects.push({ object: document, file, index });
      else malformed.push({ file, index, reason: 'not a Kubernetes object (needs apiVersion, kind and metadata.name)' });
    });
  }
  return { dir, fileNames, objects, documents, malformed };
}

function isObjectEnvelope(document: unknown): document is K8sObject {
  const candidate = document as Partial<K8sObject>;
  return (
    typeof candidate === 'object' &&
    typeof candidate.apiVersion === 'string' &&
    typeof candidate.kind === 'string' &&
    typeof candidate.metadata === 'object' &&
    candidate.metadata !== null &&
    typeof candidate.metadata.name === 'string'
  );
}

function byteOrder(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
