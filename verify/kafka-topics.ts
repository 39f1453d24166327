import type { Dist } from './dist';
import type { DistObject } from './model';

/** One line of the topics Job's topics.conf: `<name> <partitions> <replication-factor> <k=v,...>`. */
export interface DeclaredTopic {
  readonly name: string;
  readonly partitions: number;
  readonly replicationFactor: number;
  readonly configs: Readonly<Record<string, string>>;
  readonly line: number;
}

export interface TopicsFile {
  readonly configMap: DistObject;
  readonly topics: readonly DeclaredTopic[];
  /** Lines that do not parse, as `line N: reason`. */
  readonly errors: readonly string[];
}

export const TOPICS_FILE_KEY = 'topics.conf';

/** Every ConfigMap in dist/ that carries a topics.conf, parsed. */
export function topicsFiles(dist: Dist): TopicsFile[] {
  return dist.objects
    .filter((item) => item.object.kind === 'ConfigMap' && typeof item.object.data?.[TOPICS_FILE_KEY] === 'string')
    .map((configMap) => ({ configMap, ...parseTopicsConf(configMap.object.data[TOPICS_FILE_KEY]) }));
}

export function parseTopicsConf(text: string): { topics: DeclaredTopic[]; errors: string[] } {
  const topics: DeclaredTopic[] = [];
  const errors: string[] = [];
  text.split('\n').forEach((raw, index) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const fields = line.split(/\s+/);
    const [name, partitions, replicationFactor, configText = ''] = fields;
    if (fields.length < 3 || fields.length > 4 || !/^\d+$/.test(partitions) || !/^\d+$/.test(replicationFactor)) {
      errors.push(`line ${index + 1}: expected '<name> <partitions> <replication-factor> [k=v,...]', got '${line}'`);
      return;
    }
    const configs: Record<string, string> = {};
    for (const pair of configText.split(',').filter(Boolean)) {
      const separator = pair.indexOf('=');
      if (separator <= 0) {
        errors.push(`line ${index + 1}: config '${pair}' is not key=value`);
        return;
      }
      configs[pair.slice(0, separator)] = pair.slice(separator + 1);
    }
    topics.push({ name, partitions: Number(partitions), replicationFactor: Number(replicationFactor), configs, line: index + 1 });
  });
  return { topics, errors };
}
