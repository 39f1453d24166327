/** Short options of postgres(1) that set a postgresql.conf setting: `-B nbuffers`, `-N max-connections`, `-p port`. */
const SHORT_OPTIONS: Record<string, string> = { '-B': 'shared_buffers', '-N': 'max_connections', '-p': 'port' };

/** A setting from the command line and the word that sets it, e.g. `args[3]`. */
export interface CommandLineSetting {
  readonly value: string;
  readonly where: string;
}

/**
 * The postgresql.conf settings a PostgreSQL container passes on its command line, as the server reads
 * them: `-c name=value`, `-cname=value`, `--name=value` and the short options `-B`, `-N`, `-p`, separate
 * (`-B 32768`) or attached (`-B32768`), as getopt reads them (postgres(1)); the last one wins.
 */
export function commandLineSettingSources(container: Record<string, any>): Map<string, CommandLineSetting> {
  const words = [
    ...((container.command ?? []) as unknown[]).map((word, index) => ({ word: String(word), where: `command[${index}]` })),
    ...((container.args ?? []) as unknown[]).map((word, index) => ({ word: String(word), where: `args[${index}]` })),
  ];
  const settings = new Map<string, CommandLineSetting>();
  const set = (assignment: string, where: string) => {
    const separator = assignment.indexOf('=');
    if (separator > 0) settings.set(assignment.slice(0, separator).trim().replace(/-/g, '_'), { value: assignment.slice(separator + 1).trim(), where });
  };
  words.forEach(({ word, where }, index) => {
    const next = words[index + 1];
    const option = word.slice(0, 2);
    if (word === '-c' && next) set(next.word, next.where);
    else if (option === '-c' && word.length > 2) set(word.slice(2), where);
    else if (word.startsWith('--') && word.includes('=')) set(word.slice(2), where);
    else if (SHORT_OPTIONS[option] && word.length > 2) settings.set(SHORT_OPTIONS[option], { value: word.slice(2), where });
    else if (SHORT_OPTIONS[word] && next) settings.set(SHORT_OPTIONS[word], { value: next.word, where: next.where });
  });
  return settings;
}

/** The command-line settings as name -> value. */
export function commandLineSettings(container: Record<string, any>): Map<string, string> {
  return new Map([...commandLineSettingSources(container)].map(([name, { value }]) => [name, value]));
}

// Memory units of postgresql.conf (multiples of 1024; "Parameter Names and Values" in the manual).
const MEMORY_UNITS: Record<string, number> = { B: 1, kB: 2 ** 10, MB: 2 ** 20, GB: 2 ** 30, TB: 2 ** 40 };

/** Bytes in a memory setting; a bare number counts in the setting's own unit (8 kB pages for shared_buffers, kB for work_mem). */
export function memorySettingBytes(value: string, bareUnitBytes: number): number | undefined {
  const match = /^\s*(\d+(?:\.\d+)?)\s*(B|kB|MB|GB|TB)?\s*$/.exec(value);
  if (!match) return undefined;
  return Number(match[1]) * (match[2] ? MEMORY_UNITS[match[2]] : bareUnitBytes);
}
