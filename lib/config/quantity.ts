import { z } from 'zod';

// Kubernetes resource.Quantity grammar (apimachinery/pkg/api/resource/quantity.go), without the
// exponent forms nobody writes by hand. '5GB' and '1.5 Gi' are the typos this rejects.
const QUANTITY = /^(\d+(\.\d+)?|\.\d+)(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$/;

const SUFFIX_FACTOR: Record<string, number> = {
  '': 1, m: 1e-3, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18,
  Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60,
};

/** The numeric value of a quantity: cores for CPU, bytes for memory and storage. */
export function parseQuantity(quantity: string): number {
  const match = QUANTITY.exec(quantity);
  if (!match) {
    throw new Error(`invalid quantity '${quantity}'`);
  }
  return Number(match[1]) * SUFFIX_FACTOR[match[3] ?? ''];
}

export const quantity = z
  .string()
  .regex(QUANTITY, "must be a Kubernetes quantity such as '500m', '512Mi' or '10Gi'");

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
      // Malformed quantities already have their own issue; compare only well-formed ones.
      if (!QUANTITY.test(r.requests[kind]) || !QUANTITY.test(r.limits[kind])) continue;
      if (parseQuantity(r.requests[kind]) > parseQuantity(r.limits[kind])) {
        ctx.addIssue({
          code: z.ZodIssueCode.custom,
          path: ['requests', kind],
          message: `must not exceed limits.${kind} (${r.limits[kind]})`,
        });
      }
    }
  });

export type Resources = z.infer<typeof resources>;

/** Megabytes (MiB) in a memory quantity, rounded down. */
export function mebibytes(memory: string): number {
  return Math.floor(parseQuantity(memory) / 2 ** 20);
}
