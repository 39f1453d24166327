// Kubernetes resource.Quantity (k8s.io/apimachinery/pkg/api/resource/quantity.go): <signedNumber><suffix>,
// the suffix a binary SI (Ki..Ei), decimal SI (m, k..E) or decimal exponent (e3, E-2) form. The one
// parser of the project: the config schema (lib/config/resources.ts), the verifier, deploy and diff.
// Pure on purpose: the verifier imports it, and it never imports constructs (PRODUCT.md).
const QUANTITY = /^([+-]?(?:\d+\.?\d*|\.\d+))(?:[eE]([+-]?\d+)|(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?)$/;

const SUFFIX_FACTOR: Record<string, number> = {
  '': 1, m: 1e-3, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18,
  Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60,
};

/**
 * The value of a quantity: cores for CPU, bytes for memory and storage; undefined when malformed. A YAML
 * number (`cpu: 2`) is a quantity too, and a string is trimmed, as the API server's decoding does
 * (Quantity.UnmarshalJSON).
 */
export function quantityValue(quantity: unknown): number | undefined {
  const text = typeof quantity === 'number' ? String(quantity) : typeof quantity === 'string' ? quantity.trim() : '';
  const match = QUANTITY.exec(text);
  if (!match) return undefined;
  const [, number, exponent, suffix = ''] = match;
  const value = exponent === undefined ? Number(number) * SUFFIX_FACTOR[suffix] : Number(`${number}e${exponent}`);
  return Number.isFinite(value) ? value : undefined;
}

/** The value of a quantity known to be well-formed (validated config, what the API server returns); throws otherwise. */
export function parseQuantity(quantity: string): number {
  const value = quantityValue(quantity);
  if (value === undefined) throw new Error(`invalid quantity '${quantity}'`);
  return value;
}

/** Megabytes (MiB) in a memory quantity, rounded down. */
export function mebibytes(memory: string): number {
  return Math.floor(parseQuantity(memory) / 2 ** 20);
}

/** Bytes as a short binary quantity for messages: '1.5Gi', '512Mi'. */
export function formatBytes(bytes: number): string {
  for (const [unit, size] of [['Gi', 2 ** 30], ['Mi', 2 ** 20], ['Ki', 2 ** 10]] as const) {
    if (bytes >= size) return `${+(bytes / size).toFixed(2)}${unit}`;
  }
  return `${bytes}`;
}

/** A validated resources setting, as the constructs receive it (the schema is in resources.ts). */
export type { Resources } from './resources';
