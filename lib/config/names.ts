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

// A container image reference that is pinned: a tag other than 'latest', or a digest. With both
// (name:tag@sha256:...), the runtime pulls by digest and the tag documents what it is. One problem per image.
const IMAGE_REFERENCE = /^[a-z0-9]+([._/-][a-z0-9]+)*(:[0-9]+)?(\/[a-z0-9._-]+)*(:[\w][\w.-]{0,127})?(@sha256:[a-f0-9]{64})?$/;
export const pinnedImage = z.string().superRefine((image, ctx) => {
  const problem =
    image.includes('@') && !/@sha256:[a-f0-9]{64}$/.test(image)
      ? 'must end in a digest of the form @sha256:<64 lower-case hex digits> when it has one (what `crane digest <image>` prints)'
      : !IMAGE_REFERENCE.test(image)
        ? 'must be an image reference such as postgres:16.13, optionally pinned to a digest too (postgres:16.13@sha256:...)'
        : !/@sha256:|:(?!latest$)[\w][\w.-]*$/.test(image.replace(/^[^/]+:[0-9]+\//, ''))
          ? "must be pinned to a tag (not 'latest') or a digest"
          : undefined;
  // fatal: refinements chained on this one (the Kafka version tag) would only repeat the problem.
  if (problem) ctx.addIssue({ code: z.ZodIssueCode.custom, message: problem, fatal: true });
});
