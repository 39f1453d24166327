import { z } from 'zod';

// RFC 1123 label: what Namespace, Service and most object names must be (max 63 for labels).
export const dnsLabel = z
  .string()
  .max(63, 'must be at most 63 characters (DNS-1123 label)')
  .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, 'must be a DNS-1123 label: lower-case letters, digits and -, starting and ending with a letter or digit');

// A container image reference that is pinned: a tag other than 'latest', or a digest.
export const pinnedImage = z
  .string()
  .regex(
    /^[a-z0-9]+([._/-][a-z0-9]+)*(:[0-9]+)?(\/[a-z0-9._-]+)*(:[\w][\w.-]{0,127})?(@sha256:[a-f0-9]{64})?$/,
    'must be an image reference',
  )
  .refine((image) => /@sha256:|:(?!latest$)[\w][\w.-]*$/.test(image.replace(/^[^/]+:[0-9]+\//, '')), {
    message: "must be pinned to a tag (not 'latest') or a digest",
  });
