/**
 * The postgresql.conf settings a PostgreSQL container passes on its command line, as the server reads
 * them: `-c name=value`, `-cname=value` and `--name=value` (postgres(1)); the last one wins.
 */
export function commandLineSettings(container: Record<string, any>): Map<string, string> {
  const words = [...(container.command ?? []), ...(container.args ?? [])].map(String);
  const settings = new Map<string, string>();
  const set = (assignment: string) => {
    const separator = assignment.indexOf('=');
    if (separator > 0) settings.set(assignment.slice(0, separator).trim().replace(/-/g, '_'), assignment.slice(separator + 1).trim());
  };
  words.forEach((word, index) => {
    if (word === '-c' && index + 1 < words.length) set(words[index + 1]);
    else if (word.startsWith('-c') && word.length > 2) set(word.slice(2));
    else if (word.startsWith('--') && word.includes('=')) set(word.slice(2));
    else if (word === '-p' && index + 1 < words.length) settings.set('port', words[index + 1]);
  });
  return settings;
}

// Memory units of postgresql.conf (multiples of 1024; "Parameter Names and Values" in the manual).
const MEMORY_UNITS: Record<string, number> = { B: 1, kB: 2 ** 10, MB: 2 ** 20, GB: 2 ** 30, TB: 2 ** 40 };

/** Bytes in a memory setting; a bare number counts in the setting's own unit (8 kB pages for shared_buffers, kB for work_mem). */
export function memorySettingBytes(value: string, bareUnitBytes: number): number | undefined {
  const match = /^\s*(\d+(?:\.\d+)?)\s*(B|kB|MB|GB|TB)?\s*$/.exec(value);
  if (!match) return undefined;
  return Number(match[1]) * (match[2] ? MEMORY_UNITS[match[2]] : bareUnitBytes);
}
