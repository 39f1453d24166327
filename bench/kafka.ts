import * as path from 'node:path';
import { KafkaTestCluster, PRODUCTION_JVM } from '../test/harness/kafka/cluster';
import { atMost, type Measurement, ROOT } from './measure';

/**
 * The topics Job's own script from dist/ on a real broker started from dist/'s StatefulSet: the first
 * run creates the 10 topics (PRODUCT.md target <= 20 s), the second finds nothing to do (<= 10 s).
 */
export async function benchTopics(): Promise<Measurement[]> {
  const cluster = await KafkaTestCluster.start({ distDir: path.join(ROOT, 'dist'), containerEnv: { kafka: PRODUCTION_JVM } });
  try {
    const run = async (): Promise<number> => {
      const result = await cluster.runTopicsJob();
      if (result.exitCode !== 0) throw new Error(`topics Job failed:\n${result.output}`);
      return result.durationMs;
    };
    const first = await run();
    const noop = await run();
    return [atMost('kafka: topics Job, first run (10 topics)', first, 20_000), atMost('kafka: topics Job, no-op re-run', noop, 10_000)];
  } finally {
    await cluster.close();
  }
}
