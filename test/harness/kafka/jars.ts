import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { runStreaming } from '../processes';

export const CACHE_ROOT = path.join(os.homedir(), '.cache', 'learnflow-infra');

// Kafka 4.x logs through log4j 2 behind slf4j 1.7 (its poms declare slf4j-api 1.7.36), and the logging
// backend is not a transitive dependency: the binding and core come from us. 2.25.4 is the log4j line
// that kafka-server 4.3 declares.
const LOG4J_VERSION = '2.25.4';

/**
 * The older release the production suite installs first and then upgrades to the default image's (issue 9 §5):
 * the newest 4.x release line below the default's, at its last patch on Maven Central.
 */
export const UPGRADE_FROM_KAFKA_VERSION = '4.2.2';

// Pinned so that a fresh cache resolves the same plugin (and so the same copy semantics) every time.
const COPY_DEPENDENCIES = 'org.apache.maven.plugins:maven-dependency-plugin:3.6.1:copy-dependencies';

function harnessPom(kafkaVersion: string): string {
  const dependency = (groupId: string, artifactId: string, version: string) =>
    `    <dependency><groupId>${groupId}</groupId><artifactId>${artifactId}</artifactId><version>${version}</version></dependency>`;
  return [
    '<project xmlns="http://maven.apache.org/POM/4.0.0">',
    '  <modelVersion>4.0.0</modelVersion>',
    '  <groupId>dev.learnflow</groupId><artifactId>kafka-harness</artifactId><version>1</version><packaging>pom</packaging>',
    '  <dependencies>',
    // kafka_2.13: the broker (kafka.Kafka), the image's launcher (kafka.docker.KafkaDockerWrapper),
    // kafka.tools.StorageTool and kafka.admin.ConfigCommand; kafka-tools: TopicCommand and friends.
    dependency('org.apache.kafka', 'kafka_2.13', kafkaVersion),
    dependency('org.apache.kafka', 'kafka-tools', kafkaVersion),
    dependency('org.apache.logging.log4j', 'log4j-slf4j-impl', LOG4J_VERSION),
    dependency('org.apache.logging.log4j', 'log4j-core', LOG4J_VERSION),
    '  </dependencies>',
    '</project>',
    '',
  ].join('\n');
}

function kafkaHomeDir(kafkaVersion: string): string {
  return path.join(CACHE_ROOT, `kafka-${kafkaVersion}`);
}

/**
 * The directory holding Apache Kafka's jars (and their runtime dependencies) for `kafkaVersion`, as
 * `fetchKafkaJars` left it in the cache. Test workers only look it up: fetching happens once per machine,
 * before the workers start (test/support/prepare-engines.ts).
 */
export function kafkaJarsDir(kafkaVersion: string): string {
  const lib = path.join(kafkaHomeDir(kafkaVersion), 'lib');
  if (!fs.existsSync(lib)) {
    throw new Error(`Apache Kafka ${kafkaVersion}'s jars are not in ${CACHE_ROOT}: the engine preparation that npm test runs first fetches them (see its output)`);
  }
  return lib;
}

/** Fetches Apache Kafka's jars for `kafkaVersion` from Maven Central into the cache, unless they are there. */
export async function fetchKafkaJars(kafkaVersion: string, onLine: (line: string) => void = () => undefined): Promise<string> {
  const home = kafkaHomeDir(kafkaVersion);
  const lib = path.join(home, 'lib');
  if (fs.existsSync(lib)) return lib;

  fs.mkdirSync(CACHE_ROOT, { recursive: true });
  // Resolve into a private directory and rename it into place, so that an interrupted download never
  // leaves a half-filled lib/ that a later run would trust.
  const staging = fs.mkdtempSync(path.join(CACHE_ROOT, `.kafka-${kafkaVersion}-`));
  try {
    fs.writeFileSync(path.join(staging, 'pom.xml'), harnessPom(kafkaVersion));
    const args = ['-B', '-ntp', `-Dmaven.repo.local=${path.join(CACHE_ROOT, 'maven-repository')}`, COPY_DEPENDENCIES, '-DincludeScope=runtime', '-DoutputDirectory=lib'];
    const result = await runStreaming('mvn', args, staging, 600_000, onLine);
    if (result.exitCode !== 0) {
      throw new Error(`mvn could not fetch Apache Kafka ${kafkaVersion} from Maven Central (exit ${result.exitCode}):\n${result.output.split('\n').slice(-30).join('\n')}`);
    }
    try {
      fs.renameSync(staging, home);
    } catch (error) {
      // Another process finished first: its copy is as good as ours.
      if (!fs.existsSync(lib)) throw error;
    }
    return lib;
  } finally {
    fs.rmSync(staging, { recursive: true, force: true });
  }
}
