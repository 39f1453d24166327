import * as fs from 'node:fs';
import * as path from 'node:path';

let root: string | undefined;

/** The repository root, found from this file whether it runs from source or from build/. */
export function projectRoot(): string {
  if (!root) {
    let dir = __dirname;
    while (!fs.existsSync(path.join(dir, 'package.json'))) {
      const parent = path.dirname(dir);
      if (parent === dir) throw new Error(`cannot find the project root above ${__dirname}`);
      dir = parent;
    }
    root = dir;
  }
  return root;
}

/**
 * The vendored reference data (reference/README.md): Kubernetes schemas, Dapr CRDs and Dapr component
 * metadata. Part of the project, so a clone alone synthesizes and verifies.
 */
export function referenceDir(): string {
  return path.join(projectRoot(), 'reference');
}

/** A file shipped verbatim into a ConfigMap (scripts, SQL), read relative to the project root. */
export function readProjectFile(relativePath: string): string {
  return fs.readFileSync(path.join(projectRoot(), relativePath), 'utf8');
}
