import * as fs from 'node:fs';
import * as path from 'node:path';
import { runStreaming } from '../processes';
import { CACHE_ROOT } from './jars';

// The init-container images the Kafka harness can emulate: each maps the image's files to what Maven
// Central publishes of the same release. The OpenTelemetry operator's autoinstrumentation-java image is
// busybox plus the agent release jar as /javaagent.jar (opentelemetry-operator
// autoinstrumentation/java/Dockerfile), the jar io.opentelemetry.javaagent:opentelemetry-javaagent.
const OTEL_AGENT_IMAGE = /^ghcr\.io\/open-telemetry\/opentelemetry-operator\/autoinstrumentation-java:([0-9][^@]*)(@sha256:[0-9a-f]{64})?$/;

function agentJarPath(version: string): string {
  return path.join(CACHE_ROOT, `opentelemetry-javaagent-${version}`, 'javaagent.jar');
}

/** The OpenTelemetry Java agent version of an autoinstrumentation-java image reference, or undefined. */
export function otelAgentVersion(image: string): string | undefined {
  return OTEL_AGENT_IMAGE.exec(image)?.[1];
}

/** The image's files (container path -> host file) that an init container may read, as the harness provides them. */
export function initImageFiles(image: string): ReadonlyMap<string, string> {
  const version = otelAgentVersion(image);
  if (!version) throw new Error(`the Kafka harness cannot emulate the init container image ${image} (known: OpenTelemetry autoinstrumentation-java)`);
  const jar = agentJarPath(version);
  if (!fs.existsSync(jar)) throw new Error(`the OpenTelemetry Java agent ${version} is not in ${CACHE_ROOT}: the engine preparation that npm test runs first fetches it (see its output)`);
  return new Map([['/javaagent.jar', jar]]);
}

/** Fetches the OpenTelemetry Java agent release jar from Maven Central into the cache, unless it is there. */
export async function fetchOtelAgentJar(version: string, onLine: (line: string) => void = () => undefined): Promise<string> {
  const jar = agentJarPath(version);
  if (fs.existsSync(jar)) return jar;
  fs.mkdirSync(path.dirname(jar), { recursive: true });
  const args = [
    '-B',
    '-ntp',
    `-Dmaven.repo.local=${path.join(CACHE_ROOT, 'maven-repository')}`,
    'org.apache.maven.plugins:maven-dependency-plugin:3.6.1:copy',
    `-Dartifact=io.opentelemetry.javaagent:opentelemetry-javaagent:${version}`,
    `-DoutputDirectory=${path.dirname(jar)}`,
    '-Dmdep.stripVersion=true',
  ];
  const result = await runStreaming('mvn', args, path.dirname(jar), 600_000, onLine);
  const copied = path.join(path.dirname(jar), 'opentelemetry-javaagent.jar');
  if (result.exitCode !== 0 || !fs.existsSync(copied)) {
    throw new Error(`mvn could not fetch the OpenTelemetry Java agent ${version} (exit ${result.exitCode}):\n${result.output.split('\n').slice(-30).join('\n')}`);
  }
  // Renamed only when complete, so an interrupted download is never taken for the jar.
  fs.renameSync(copied, jar);
  return jar;
}
