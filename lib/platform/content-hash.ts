import { createHash } from 'node:crypto';

// Pure on purpose (node:crypto only): synth names Jobs with it and the verifier recomputes it from the
// YAML of dist/, so a Job or ConfigMap edited without renaming is found (one implementation, PRODUCT.md).

/** Hex digits of a content hash: Job names carry it, and must stay within 63 characters with it. */
export const CONTENT_HASH_LENGTH = 10;

/**
 * A short, stable digest of the given parts. Jobs carry it in their name: a Job's pod template is
 * immutable, so changed content must become a new Job rather than an update that the API rejects.
 */
export function contentHash(...parts: readonly string[]): string {
  const hash = createHash('sha256');
  for (const part of parts) {
    hash.update(String(part.length)).update(':').update(part);
  }
  return hash.digest('hex').slice(0, CONTENT_HASH_LENGTH);
}

/**
 * JSON with object keys sorted and null/undefined members dropped, the way cdk8s renders an object
 * (sanitizeValue in cdk8s/lib/_util.js), so the same content hashes the same whether it is a
 * construct's props or the YAML read back from dist/.
 */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, member: unknown) => {
    if (member === null || typeof member !== 'object' || Array.isArray(member)) return member;
    const sorted: Record<string, unknown> = {};
    for (const key of Object.keys(member).sort()) {
      const child = (member as Record<string, unknown>)[key];
      if (child !== null && child !== undefined) sorted[key] = child;
    }
    return sorted;
  });
}

/** What a hashed Job's name is derived from, as it reads in dist/. */
export interface HashedJobContent {
  /** The data of the Job's own ConfigMap (scripts, SQL, declarations). */
  readonly files: Readonly<Record<string, unknown>>;
  /** The Job's spec as rendered, with its own ConfigMap's name (which carries the hash) as ''. */
  readonly spec: unknown;
  readonly labels: Readonly<Record<string, unknown>>;
  /** The Job's own annotations (Argo CD hook), without the sync wave of its file. */
  readonly annotations: Readonly<Record<string, unknown>>;
}

/** The hash a Job and its ConfigMap carry in their common name: `<prefix>-<hash>`. */
export function hashedJobContentHash(content: HashedJobContent): string {
  return contentHash(canonicalJson(content.files), canonicalJson(content.spec), canonicalJson({ labels: content.labels, annotations: content.annotations }));
}
