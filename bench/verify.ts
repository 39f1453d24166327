import { spawnSync } from 'node:child_process';
import * as os from 'node:os';
import { DIST_DIR, LoopbackStack } from '../test/harness/loopback-stack';
import { loadDist } from '../verify/dist';
import { topicsFiles } from '../verify/kafka-topics';
import { LEARNFLOW_TABLES } from '../verify/mission';
import { atLeast, atMost, type Measurement, timeAsync, timeCommand } from './measure';

const VERIFY = 'build/verify/main.js';

/**
 * Static verify of dist/; live verify (static + Kafka + PostgreSQL checks) of the loopback stack against
 * the original plan's approach on the same stack: one `kafka-topics.sh --describe --topic T` per topic
 * and one `psql -c` per table.
 */
export async function benchVerify(): Promise<Measurement[]> {
  const loadBefore = os.loadavg()[0];
  // Without a kubeconfig the verifier does not wait for a cluster: what is measured is verify itself.
  const noCluster = { KUBECONFIG: '/nonexistent', HOME: os.tmpdir() };
  const staticNode = timeCommand(process.execPath, [VERIFY, '--offline'], 5, noCluster);
  const staticNpm = timeCommand('npm', ['run', '-s', 'verify', '--', '--offline'], 3, noCluster);

  process.stderr.write('verify bench: starting Kafka and PostgreSQL from dist/ on loopback ...\n');
  const stack = await LoopbackStack.start();
  try {
    const live = timeCommand(process.execPath, [VERIFY, '--kafka-brokers', stack.kafkaBrokers.join(','), '--postgres-url', stack.appUrl], 5, noCluster);

    const topics = topicsFiles(loadDist(DIST_DIR)).flatMap((file) => file.topics.map((topic) => topic.name));
    const { host, port, user, password, database } = stack.appConnection;
    const psqlEnv = { ...process.env, PGHOST: host, PGPORT: String(port), PGUSER: user, PGPASSWORD: password, PGDATABASE: database };
    const original = await timeAsync(1, async () => {
      for (const topic of topics) {
        const described = await stack.kafka.runTool('kafka-topics.sh', ['--bootstrap-server', stack.kafkaBrokers[0], '--describe', '--topic', topic]);
        if (described.exitCode !== 0 || !described.stdout.includes(topic)) throw new Error(`kafka-topics.sh --describe --topic ${topic} failed:\n${described.output}`);
      }
      for (const table of LEARNFLOW_TABLES) {
        const result = spawnSync('psql', ['-X', '-qAt', '-c', `SELECT count(*) FROM public.${table}`], { env: psqlEnv, encoding: 'utf8' });
        if (result.status !== 0) throw new Error(`psql -c on ${table} failed: ${result.stderr}`);
      }
    });
    const loadAfter = os.loadavg()[0];
    process.stderr.write(`verify bench: load average (1 min) ${loadBefore.toFixed(1)} before, ${loadAfter.toFixed(1)} after, on ${os.cpus().length} cores\n`);
    return [
      atMost('verify: static, node build/verify/main.js --offline', staticNode, 1000),
      atMost('verify: static, npm run verify -- --offline', staticNpm, 1000),
      atMost('verify: live, loopback stack (static + Kafka + PostgreSQL checks)', live, 3000),
      { ...atMost(`verify: original plan, ${topics.length} x kafka-topics.sh --describe + ${LEARNFLOW_TABLES.length} x psql -c (reference)`, original, Infinity), target: 'reference' },
      atLeast('verify: speed-up of live verify over the original plan', original / live, 10),
    ];
  } finally {
    await stack.close();
  }
}
