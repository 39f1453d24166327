import { spawnSync } from 'node:child_process';
import * as path from 'node:path';

const GENERATOR = path.join(__dirname, 'KafkaTopicConfigs.java');

/**
 * The topic config definitions of the Kafka jars in `libDir`, as the text of a data file of
 * lib/config/kafka-topic-configs/: Kafka's own ConfigDef (KafkaTopicConfigs.java, run by the JVM on those
 * jars), with its provenance. Deterministic: the same jars give the same bytes.
 */
export function renderTopicConfigs(libDir: string): string {
  const result = spawnSync('java', ['-cp', path.join(libDir, '*'), GENERATOR], { encoding: 'utf8', timeout: 120_000 });
  if (result.status !== 0) throw new Error(`java ${path.basename(GENERATOR)} failed (${result.error?.message ?? `exit ${result.status}`}):\n${result.stderr}`);
  const { kafkaVersion, configs } = JSON.parse(result.stdout) as { kafkaVersion: string; configs: object };
  const data = {
    kafkaVersion,
    source:
      `org.apache.kafka.storage.internals.log.LogConfig.configKeys(), the topic configs that are not internal, of Apache Kafka ${kafkaVersion} ` +
      `(org.apache.kafka:kafka-storage and kafka-clients ${kafkaVersion} from Maven Central, Apache-2.0)`,
    generatedBy:
      `npm run kafka-topic-configs -- --kafka-version ${kafkaVersion}: test/harness/kafka/KafkaTopicConfigs.java on the jars the Kafka test harness fetches; ` +
      'test/kafka-topic-configs.test.ts regenerates it and compares byte for byte. Do not edit.',
    fields:
      'type: the ConfigDef.Type Kafka parses the value as; min, max: the bounds of a ConfigDef.Range; values: the choices of a ConfigDef.ValidString or ValidList; ' +
      'rule: any other validator, in its own words, which synth does not evaluate (the broker does)',
    configs,
  };
  return `${JSON.stringify(data, null, 2)}\n`;
}
