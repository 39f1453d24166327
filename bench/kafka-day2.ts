import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { atMost, type Measurement, ROOT, recorded } from './measure';

interface Day2Results {
  readonly probeCpuMsPerMinute: number;
  readonly sidecarCpuMsPerMinute: number;
  readonly phases: Record<string, { durationMs: number; produceP50Ms: number; produceP99Ms: number }>;
  /** The rebalance Job's script after the scale-out from 3 to 5 brokers (the 10 declared topics), and its no-op re-run. */
  readonly rebalanceMs: number;
  readonly rebalanceNoOpMs: number;
  /** The features Job after the upgrade roll (raising metadata.version), and its no-op re-run. */
  readonly featuresMs: number;
  readonly featuresNoOpMs: number;
  readonly lost: number;
  readonly failedSends: number;
}

/**
 * The day-2 suite on real brokers (test/kafka-production.test.ts: the upgrade roll, drains and kill -9 under acks=all
 * load), run once as it runs in the tests; its figures are recorded here: each operation's duration (the upgrade
 * roll and the features Job after it, the scale-out from 3 to 5 brokers and the rebalance Job's moves among them) and produce
 * latency p50/p99 beside the steady state's, the readiness probe's and sidecar's CPU per broker per minute,
 * and what was lost (target 0). The latencies have no PRODUCT.md target: they are recorded against steady.
 */
export function benchKafkaDay2(): Measurement[] {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'learnflow-bench-day2-')), 'results.json');
  const run = spawnSync('npx', ['vitest', 'run', 'test/kafka-production.test.ts'], { cwd: ROOT, stdio: 'inherit', env: { ...process.env, LEARNFLOW_DAY2_RESULTS: file } });
  if (run.status !== 0 || !fs.existsSync(file)) throw new Error(`the day-2 suite failed (exit ${run.status}); no figures`);
  const results = JSON.parse(fs.readFileSync(file, 'utf8')) as Day2Results;
  return [
    ...Object.entries(results.phases).flatMap(([phase, figures]) => [
      recorded(`kafka day 2: ${phase}, duration`, figures.durationMs),
      recorded(`kafka day 2: ${phase}, produce latency p50`, figures.produceP50Ms),
      recorded(`kafka day 2: ${phase}, produce latency p99`, figures.produceP99Ms),
    ]),
    recorded('kafka day 2: rebalance Job, 10 topics after 3 -> 5 brokers', results.rebalanceMs),
    recorded('kafka day 2: rebalance Job, no-op re-run', results.rebalanceNoOpMs),
    recorded('kafka day 2: features Job, metadata.version raised after the upgrade roll', results.featuresMs),
    recorded('kafka day 2: features Job, no-op re-run', results.featuresNoOpMs),
    // A JVM start per probe would be ~1 CPU second each, 12 a minute.
    atMost('kafka day 2: readiness probe CPU per broker per minute (12 probes)', results.probeCpuMsPerMinute, 1_000),
    atMost('kafka day 2: readiness sidecar CPU per broker per minute', results.sidecarCpuMsPerMinute, 3_000),
    atMost('kafka day 2: acknowledged messages lost (count)', results.lost, 0),
    atMost('kafka day 2: failed sends (count)', results.failedSends, 0),
  ];
}
