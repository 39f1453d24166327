import { createHash } from 'node:crypto';

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
