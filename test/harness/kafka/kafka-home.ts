import * as fs from 'node:fs';
import * as path from 'node:path';

export const IMAGE_DEFAULTS_DIR = path.join(__dirname, 'image-defaults');

// The Kafka 4.x distribution's bin/ scripts and the classes they run (the same in 4.2 and 4.3).
const TOOLS: Record<string, string> = {
  'kafka-topics.sh': 'org.apache.kafka.tools.TopicCommand',
  'kafka-configs.sh': 'kafka.admin.ConfigCommand',
  'kafka-metadata-quorum.sh': 'org.apache.kafka.tools.MetadataQuorumCommand',
  'kafka-broker-api-versions.sh': 'org.apache.kafka.tools.BrokerApiVersionsCommand',
  'kafka-storage.sh': 'kafka.tools.StorageTool',
  // The rebalance Job's moves and its preferred leader election.
  'kafka-reassign-partitions.sh': 'org.apache.kafka.tools.reassign.ReassignPartitionsCommand',
  'kafka-leader-election.sh': 'org.apache.kafka.tools.LeaderElectionCommand',
  // The features Job: metadata.version after an upgrade.
  'kafka-features.sh': 'org.apache.kafka.tools.FeatureCommand',
  // The users Job (kafka.security): the app-ids' ACLs.
  'kafka-acls.sh': 'org.apache.kafka.tools.AclCommand',
  // The producer and consumer of Kafka's own system tests: JSON events per send and per record.
  'kafka-verifiable-producer.sh': 'org.apache.kafka.tools.VerifiableProducer',
  'kafka-verifiable-consumer.sh': 'org.apache.kafka.tools.VerifiableConsumer',
};

const quote = (value: string) => `'${value.replace(/'/g, `'\\''`)}'`;

function runClassScript(libDir: string, hostsFile: string): string {
  return `#!/usr/bin/env bash
# Apache Kafka's bin/kafka-run-class.sh, reduced to what the harness needs: the jars are Maven Central's,
# and the JVM resolves host names through the harness's hosts file (cluster DNS names -> loopback).
base_dir=$(cd "$(dirname "$0")/.." && pwd)
LOG_DIR=\${LOG_DIR:-$base_dir/logs}
mkdir -p "$LOG_DIR"
KAFKA_HEAP_OPTS=\${KAFKA_HEAP_OPTS:--Xmx256M}
KAFKA_JVM_PERFORMANCE_OPTS=\${KAFKA_JVM_PERFORMANCE_OPTS:--server -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35 -XX:+ExplicitGCInvokesConcurrent -XX:MaxInlineLevel=15 -Djava.awt.headless=true}
KAFKA_LOG4J_OPTS=\${KAFKA_LOG4J_OPTS:--Dlog4j2.configurationFile=$base_dir/config/tools-log4j2.yaml}
# Kafka's option loop: -name, -loggc and -daemon are the script's own; the first other word ends it, and
# it and the rest go to java after KAFKA_OPTS (a JVM option there precedes the main class).
while [ $# -gt 0 ]; do
  case $1 in
    -name) DAEMON_NAME=$2; shift 2 ;;
    -loggc) [ -z "\${KAFKA_GC_LOG_OPTS-}" ] && KAFKA_GC_LOG_OPTS="-Xlog:gc*:file=$LOG_DIR/\${DAEMON_NAME-kafka}-gc.log:time,tags:filecount=10,filesize=100M"; shift ;;
    -daemon) echo 'the Kafka test harness does not run daemons' >&2; exit 1 ;;
    *) break ;;
  esac
done
# shellcheck disable=SC2086 # the *_OPTS variables are lists of words, as in Kafka's own script
exec java $KAFKA_HEAP_OPTS $KAFKA_JVM_PERFORMANCE_OPTS \${KAFKA_GC_LOG_OPTS-} \${KAFKA_JMX_OPTS-} $KAFKA_LOG4J_OPTS \\
  "-Dkafka.logs.dir=$LOG_DIR" -Djdk.net.hosts.file=${quote(hostsFile)} \${KAFKA_OPTS-} \\
  -cp ${quote(`${libDir}/*`)} "$@"
`;
}

const SERVER_START = `#!/usr/bin/env bash
# bin/kafka-server-start.sh: the broker's log4j2 file sits beside its server.properties (/opt/kafka/config).
config_dir=$(dirname "$1")
export KAFKA_LOG4J_OPTS=\${KAFKA_LOG4J_OPTS:--Dlog4j2.configurationFile=$config_dir/log4j2.yaml}
export KAFKA_HEAP_OPTS=\${KAFKA_HEAP_OPTS:--Xmx1G -Xms1G}
EXTRA_ARGS=\${EXTRA_ARGS-'-name kafkaServer -loggc'}
# shellcheck disable=SC2086 # a list of words, as in Kafka's own script
exec "$(dirname "$0")/kafka-run-class.sh" $EXTRA_ARGS kafka.Kafka "$@"
`;

/**
 * Write a KAFKA_HOME (`bin/` with kafka-topics.sh, kafka-configs.sh, ... and `config/`) that runs the
 * real Kafka classes from `libDir`, resolving names through `hostsFile`.
 */
export function writeKafkaHome(kafkaHome: string, libDir: string, hostsFile: string): void {
  const bin = path.join(kafkaHome, 'bin');
  const config = path.join(kafkaHome, 'config');
  fs.mkdirSync(bin, { recursive: true });
  fs.mkdirSync(config, { recursive: true });
  fs.copyFileSync(path.join(IMAGE_DEFAULTS_DIR, 'tools-log4j2.yaml'), path.join(config, 'tools-log4j2.yaml'));
  const script = (name: string, content: string) => fs.writeFileSync(path.join(bin, name), content, { mode: 0o755 });
  script('kafka-run-class.sh', runClassScript(libDir, hostsFile));
  script('kafka-server-start.sh', SERVER_START);
  for (const [name, mainClass] of Object.entries(TOOLS)) {
    script(name, `#!/usr/bin/env bash\nexec "$(dirname "$0")/kafka-run-class.sh" ${mainClass} "$@"\n`);
  }
}
