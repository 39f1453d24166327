import * as fs from 'node:fs';
import * as path from 'node:path';
import type { ManifestFile } from '../learnflow-stack';

/**
 * Replace outDir with exactly these files, or leave it untouched. Files are written into a sibling
 * temporary directory (same filesystem, so the renames are atomic) and swapped in only when all
 * are written; nothing stale survives because the old directory is removed whole.
 */
export function writeDistAtomically(outDir: string, files: readonly ManifestFile[]): void {
  const target = path.resolve(outDir);
  const parent = path.dirname(target);
  fs.mkdirSync(parent, { recursive: true });
  const staging = fs.mkdtempSync(path.join(parent, `.${path.basename(target)}.new-`));
  // mkdtemp creates 0700; dist/ is an ordinary, shareable directory.
  fs.chmodSync(staging, 0o755);
  try {
    for (const file of files) {
      if (file.fileName.includes('/') || file.fileName.startsWith('.')) {
        throw new Error(`refusing to write '${file.fileName}': dist/ holds plain file names only`);
      }
      fs.writeFileSync(path.join(staging, file.fileName), file.content);
    }
    const retired = fs.existsSync(target) ? staging.replace('.new-', '.old-') : undefined;
    if (retired) fs.renameSync(target, retired);
    try {
      fs.renameSync(staging, target);
    } catch (error) {
      if (retired) fs.renameSync(retired, target);
      throw error;
    }
    if (retired) fs.rmSync(retired, { recursive: true, force: true });
  } finally {
    fs.rmSync(staging, { recursive: true, force: true });
  }
}
