// Kubernetes resource.Quantity suffixes (k8s.io/apimachinery/pkg/api/resource).
const SUFFIXES: Record<string, number> = {
  '': 1,
  m: 1e-3,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
};

/** A Kubernetes quantity as a number (bytes for memory, cores for CPU); undefined when malformed. */
export function parseQuantity(quantity: unknown): number | undefined {
  if (typeof quantity === 'number') return quantity;
  if (typeof quantity !== 'string') return undefined;
  const match = /^([+-]?(?:\d+\.?\d*|\.\d+))(?:([eE][+-]?\d+)|(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?)$/.exec(quantity.trim());
  if (!match) return undefined;
  const [, number, exponent, suffix = ''] = match;
  return exponent ? Number(`${number}${exponent}`) : Number(number) * SUFFIXES[suffix];
}

/** The JVM's -Xmx in bytes (k/m/g/t are binary units, case-insensitive, per the java launcher). */
export function parseJavaMaxHeap(options: string): number | undefined {
  const matches = [...options.matchAll(/(?:^|\s)-Xmx(\d+)([kKmMgGtT]?)(?=\s|$)/g)];
  const last = matches.at(-1); // the JVM honours the last -Xmx it is given
  if (!last) return undefined;
  const unit = { '': 1, k: 2 ** 10, m: 2 ** 20, g: 2 ** 30, t: 2 ** 40 }[last[2].toLowerCase() as '' | 'k' | 'm' | 'g' | 't'];
  return Number(last[1]) * unit;
}

export function formatBytes(bytes: number): string {
  for (const [unit, size] of [['Gi', 2 ** 30], ['Mi', 2 ** 20], ['Ki', 2 ** 10]] as const) {
    if (bytes >= size) return `${+(bytes / size).toFixed(2)}${unit}`;
  }
  return `${bytes}`;
}
