import * as fs from 'node:fs';
import * as path from 'node:path';
import { Command } from 'commander';
import { kafkaDefaults, kafkaVersionOf } from '../lib/config/kafka';
import { topicConfigsFile } from '../lib/config/topic-configs';
import { projectRoot } from '../lib/platform/project-files';
import { fetchKafkaJars } from '../test/harness/kafka/jars';
import { renderTopicConfigs } from '../test/harness/kafka/topic-configs';

// `npm run kafka-topic-configs -- [--kafka-version X.Y.Z]`: writes lib/config/kafka-topic-configs/X.Y.Z.json
// from Kafka's own config definitions in its Maven Central jars (fetched into the test harness's cache).
const program = new Command('kafka-topic-configs')
  .description("Generate the topic config definitions synth checks kafka.topics[].configs against, from Apache Kafka's jars.")
  .option('--kafka-version <version>', 'the Apache Kafka version', kafkaVersionOf(kafkaDefaults.image))
  .showHelpAfterError();

async function main(): Promise<void> {
  const { kafkaVersion } = program.parse().opts<{ kafkaVersion: string }>();
  const libDir = await fetchKafkaJars(kafkaVersion, (line) => console.log(line));
  const file = path.join(projectRoot(), topicConfigsFile(kafkaVersion));
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, renderTopicConfigs(libDir));
  console.log(`wrote ${path.relative(projectRoot(), file)}`);
}

main().catch((error: Error) => {
  console.error(`error: ${error.message}`);
  process.exitCode = 2;
});
