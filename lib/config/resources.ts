import { z } from 'zod';
import { quantityValue } from './quantity';

/** A positive Kubernetes quantity: a zero or negative size or CPU is a mistake, never a setting. */
export const quantity = z.string().superRefine((text, ctx) => {
  const value = quantityValue(text);
  if (value === undefined) {
    ctx.addIssue({ code: z.ZodIssueCode.custom, message: "must be a Kubernetes quantity such as '500m', '512Mi' or '10Gi'" });
  } else if (value <= 0) {
    ctx.addIssue({ code: z.ZodIssueCode.custom, message: 'must be greater than zero' });
  }
});

/** A memory or storage size: a quantity with no milli suffix. */
export const byteQuantity = quantity.refine((q) => !q.endsWith('m'), {
  message: "must be a byte quantity such as '512Mi' or '10Gi' ('m' means milli, not mega)",
});

export const resources = z
  .object({
    requests: z.object({ cpu: quantity, memory: byteQuantity }).strict(),
    limits: z.object({ cpu: quantity, memory: byteQuantity }).strict(),
  })
  .strict()
  .superRefine((r, ctx) => {
    for (const kind of ['cpu', 'memory'] as const) {
      const [requested, limited] = [quantityValue(r.requests[kind]), quantityValue(r.limits[kind])];
      // Malformed quantities already have their own issue; compare only well-formed ones.
      if (requested === undefined || limited === undefined) continue;
      if (requested > limited) {
        ctx.addIssue({
          code: z.ZodIssueCode.custom,
          path: ['requests', kind],
          message: `must not exceed limits.${kind} (${r.limits[kind]})`,
        });
      }
    }
  });

export type Resources = z.infer<typeof resources>;
