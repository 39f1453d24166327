import { z } from 'zod';

export const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

// RFC 1123 label: what Namespace, Service and most object names must be (max 63 for labels).
export const dnsLabel = z
  .string()
  .max(63, 'must be at most 63 characters (DNS-1123 label)')
  .regex(DNS_LABEL, 'must be a DNS-1123 label: lower-case letters, digits and -, starting and ending with a letter or digit');

// RFC 1123 subdomain: labels joined by '.', at most 253 characters (and, to resolve, 63 per label).
export const dnsSubdomain = z
  .string()
  .max(253, 'must be at most 253 characters (DNS-1123 subdomain)')
  .refine((name) => name.split('.').every((label) => label.length <= 63 && DNS_LABEL.test(label)), {
    message: "must be a DNS-1123 subdomain: labels of lower-case letters, digits and -, joined by '.', each at most 63 characters",
  });

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
