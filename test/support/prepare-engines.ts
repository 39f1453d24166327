import { spawnSync } from 'node:child_process';
import { loadConfig } from '../../lib/config/load';
import { formatDuration } from '../../scripts/kubectl';
import { CONTROL_PLANE, DAPR_COMPONENTS, type GoBuild, PROMTOOL, runBuild } from '../harness/go-builds';
import { fetchOtelAgentJar, otelAgentVersion } from '../harness/kafka/init-images';
import { fetchKafkaJars, UPGRADE_FROM_KAFKA_VERSION } from '../harness/kafka/jars';
import { fetchPostgresTools } from '../harness/postgres/client-tools';

// Everything the engine suites need that takes minutes on a fresh machine (Kafka's jars from Maven
// Central, Dapr's components-contrib and the Kubernetes control plane from the Go module proxy) is
// prepared here, once per machine, before the test workers start: vitest's globalSetup for `npm test`,
// and the benchmarks. Asynchronous, so the progress lines flow while it works; cached afterwards.

const HEARTBEAT_MS = 30_000;

/**
 * The Kafka versions the suites run: the default config's, LEARNFLOW_KAFKA_CONFIG's when set, and the older
 * release the production suite upgrades from.
 */
function kafkaVersions(): string[] {
  const configs = [loadConfig(), ...(process.env.LEARNFLOW_KAFKA_CONFIG ? [loadConfig({ overrideFile: process.env.LEARNFLOW_KAFKA_CONFIG })] : [])];
  return [...new Set([...configs.map((config) => config.kafka.image.replace(/@.*$/, '').split(':').pop()!), UPGRADE_FROM_KAFKA_VERSION])];
}

/** The OpenTelemetry Java agent the Kafka metrics suites load: the default config's agent image's release. */
function otelAgentVersions(): string[] {
  const version = otelAgentVersion(loadConfig().observability.kafkaAgent.image);
  return version ? [version] : [];
}

function has(tool: string, versionFlag: string): boolean {
  return spawnSync(tool, [versionFlag], { stdio: 'ignore' }).status === 0;
}

interface Preparation {
  readonly name: string;
  /** Why it cannot even start (a missing tool), or undefined. */
  readonly missing?: string;
  run(onLine: (line: string) => void): Promise<unknown>;
}

function goBuild(build: GoBuild): Preparation {
  return {
    name: build.name,
    missing: has('go', 'version') ? undefined : 'go is not on PATH',
    // `go: downloading <module>` lines number in the hundreds: the heartbeat says it is alive instead.
    run: (onLine) => runBuild(build, (line) => !line.startsWith('go: downloading') && onLine(line)),
  };
}

function preparations(): Preparation[] {
  const javaMissing = ['java', 'mvn'].filter((tool) => !has(tool, '-version'));
  return [
    ...kafkaVersions().map(
      (version): Preparation => ({
        name: `kafka-${version} jars`,
        missing: javaMissing.length ? `${javaMissing.join(' and ')} not found` : undefined,
        run: (onLine) => fetchKafkaJars(version, (line) => /ERROR|BUILD/.test(line) && onLine(line)),
      }),
    ),
    ...otelAgentVersions().map(
      (version): Preparation => ({
        name: `kafka-opentelemetry-agent-${version}`,
        missing: javaMissing.includes('mvn') ? 'mvn not found' : undefined,
        run: (onLine) => fetchOtelAgentJar(version, (line) => /ERROR|BUILD/.test(line) && onLine(line)),
      }),
    ),
    {
      name: 'postgres-16 client programs',
      missing: has('python3', '--version') ? undefined : 'python3 not found (pip downloads the PostgreSQL 16 client programs)',
      run: (onLine) => fetchPostgresTools((line) => /ERROR|Saved/.test(line) && onLine(line)),
    },
    goBuild(DAPR_COMPONENTS),
    goBuild(CONTROL_PLANE),
    goBuild(PROMTOOL),
  ];
}

/**
 * Prepares every engine; returns the failures by name (an empty object when all are ready). A failure
 * does not stop the others: the suites that need a missing engine say so (and fail in CI).
 */
export async function prepareEngines(log: (line: string) => void = (line) => console.log(line)): Promise<Record<string, string>> {
  const started = Date.now();
  const failures: Record<string, string> = {};
  const prefix = (name: string) => `[engines ${formatDuration(Date.now() - started).padStart(5)}] ${name}:`;
  const running = new Set<string>();
  const heartbeat = setInterval(() => running.size && log(`${prefix([...running].join(', '))} still working`), HEARTBEAT_MS);
  const attempt = async (preparation: Preparation) => {
    if (preparation.missing) {
      failures[preparation.name] = preparation.missing;
      log(`${prefix(preparation.name)} cannot prepare: ${preparation.missing}`);
      return;
    }
    running.add(preparation.name);
    const itemStarted = Date.now();
    try {
      await preparation.run((line) => log(`${prefix(preparation.name)} ${line}`));
      if (Date.now() - itemStarted > 2_000) log(`${prefix(preparation.name)} ready in ${formatDuration(Date.now() - itemStarted)}`);
    } catch (error) {
      failures[preparation.name] = (error as Error).message;
      log(`${prefix(preparation.name)} FAILED: ${(error as Error).message}`);
    } finally {
      running.delete(preparation.name);
    }
  };
  try {
    // All at once: each Go build spends minutes downloading modules and linking, which leave the cores to the
    // others' compiling; the downloads overlap everything.
    await Promise.all(preparations().map(attempt));
  } finally {
    clearInterval(heartbeat);
  }
  log(`${prefix('all')} ${Object.keys(failures).length === 0 ? 'ready' : `not ready: ${Object.keys(failures).join(', ')}`}`);
  return failures;
}
