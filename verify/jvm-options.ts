/** The JVM's -Xmx in bytes (k/m/g/t are binary units, case-insensitive, per the java launcher). */
export function parseJavaMaxHeap(options: string): number | undefined {
  const matches = [...options.matchAll(/(?:^|\s)-Xmx(\d+)([kKmMgGtT]?)(?=\s|$)/g)];
  const last = matches.at(-1); // the JVM honours the last -Xmx it is given
  if (!last) return undefined;
  const unit = { '': 1, k: 2 ** 10, m: 2 ** 20, g: 2 ** 30, t: 2 ** 40 }[last[2].toLowerCase() as '' | 'k' | 'm' | 'g' | 't'];
  return Number(last[1]) * unit;
}
