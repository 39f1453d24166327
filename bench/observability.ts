import * as fs from 'node:fs';
import * as path from 'node:path';
import { produce } from '../test/harness/kafka/client';
import { KafkaTestCluster, PRODUCTION_JVM } from '../test/harness/kafka/cluster';
import { sleep } from '../test/harness/processes';
import { scrape } from '../test/observability/scrape';
import { runSynthCli, tempDir } from '../test/support/synth';
import { atMost, atMostMiB, atMostPercent, type Measurement, median } from './measure';

const LOAD_MS = 45_000;
const WARM_UP_MS = 15_000;
// Prometheus scrapes every 30 s (the PodMonitor's interval); here every 15 s, so the window holds 3 scrapes.
const SCRAPE_EVERY_MS = 15_000;

function synth(enabled: boolean): string {
  const dir = tempDir('bench-observability');
  const override = path.join(dir, 'override.yaml');
  fs.writeFileSync(override, JSON.stringify({ observability: { enabled } }));
  const out = path.join(dir, 'dist');
  const result = runSynthCli(['--quiet', '--out', out, '--config', override]);
  if (result.status !== 0) throw new Error(`synth failed: ${result.stderr}`);
  return out;
}

/** Produces batches of 100 messages of 200 bytes to learning.query until `until`, as fast as acks=all allows. */
async function load(brokers: string[], until: number): Promise<number> {
  const batch = Array.from({ length: 100 }, (_, i) => `${i}`.padEnd(200, 'x'));
  let sent = 0;
  while (Date.now() < until) {
    await produce(brokers, 'learning.query', batch);
    sent += batch.length;
  }
  return sent;
}

/** One broker (minikube profile) with or without the agent: its CPU seconds over the same load window. */
async function brokerUnderLoad(agent: boolean): Promise<{ cpuSeconds: number; sent: number; scrapeMs: number[]; liveHeapBytes: number }> {
  const distDir = synth(agent);
  const cluster = await KafkaTestCluster.start({ distDir, containerEnv: { kafka: PRODUCTION_JVM } });
  try {
    const topics = await cluster.runTopicsJob();
    if (topics.exitCode !== 0) throw new Error(`topics Job failed:\n${topics.output}`);
    const brokers = cluster.externalBootstrapServers;
    await load(brokers, Date.now() + WARM_UP_MS);
    const scrapeMs: number[] = [];
    const container = cluster.manifests.statefulSet.spec.template.spec.containers[0];
    const metricsPort = container.ports.find((p: { name: string }) => p.name === 'metrics')?.containerPort;
    const broker = cluster.brokerPods[0];
    const started = cluster.cpuSecondsOf(broker, 'kafka');
    const until = Date.now() + LOAD_MS;
    const scraping = (async () => {
      while (agent && Date.now() + SCRAPE_EVERY_MS < until) {
        await sleep(SCRAPE_EVERY_MS);
        scrapeMs.push((await scrape(`http://127.0.0.1:${metricsPort}/metrics`)).durationMs);
      }
    })();
    const sent = await load(brokers, until);
    await scraping;
    const cpuSeconds = cluster.cpuSecondsOf(broker, 'kafka') - started;
    return { cpuSeconds, sent, scrapeMs, liveHeapBytes: await cluster.liveHeapBytes(broker) };
  } finally {
    await cluster.close();
    fs.rmSync(path.dirname(distDir), { recursive: true, force: true });
  }
}

/**
 * Broker CPU with the OpenTelemetry agent against without, under the same produce load (PRODUCT.md target
 * <= 5 % overhead), normalised per message sent; the broker's live heap after a full GC, with and without;
 * and the duration of a scrape of the agent.
 */
export async function benchObservability(): Promise<Measurement[]> {
  const without = await brokerUnderLoad(false);
  const withAgent = await brokerUnderLoad(true);
  const perMessage = (run: { cpuSeconds: number; sent: number }) => run.cpuSeconds / run.sent;
  const overhead = (perMessage(withAgent) / perMessage(without) - 1) * 100;
  process.stderr.write(
    `observability: without agent ${without.cpuSeconds.toFixed(1)} CPU s for ${without.sent} messages; ` +
      `with agent ${withAgent.cpuSeconds.toFixed(1)} CPU s for ${withAgent.sent} messages; scrapes ${withAgent.scrapeMs.map((ms) => ms.toFixed(0)).join(', ')} ms; ` +
      `live heap after a full GC ${(without.liveHeapBytes / 2 ** 20).toFixed(1)} MiB without, ${(withAgent.liveHeapBytes / 2 ** 20).toFixed(1)} MiB with the agent\n`,
  );
  return [
    atMostPercent('observability: broker CPU per message with the metrics agent, overhead', overhead, 5),
    atMost('observability: scrape of the broker agent (median)', median(withAgent.scrapeMs), 10_000),
    // The agent's own objects in the broker's heap (its metric state, JMX rule matches), after a full GC.
    atMostMiB('observability: broker live heap added by the metrics agent', (withAgent.liveHeapBytes - without.liveHeapBytes) / 2 ** 20, 64),
  ];
}
