import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Command } from 'commander';
import { prepareEngines } from '../test/support/prepare-engines';
import { benchBackup } from './backup';
import { benchControlPlane } from './control-plane';
import { benchTopics } from './kafka';
import { benchKafkaDay2 } from './kafka-day2';
import { benchKafkaSecurity } from './kafka-security';
import { type Measurement, ROOT } from './measure';
import { benchObservability } from './observability';
import { benchPostgres } from './postgres';
import { benchSynth } from './synth';
import { benchVerify } from './verify';

/** Every benchmark; each returns its figures with their targets. Adding one is adding an entry. */
const BENCHMARKS: Record<string, () => Measurement[] | Promise<Measurement[]>> = {
  synth: benchSynth,
  topics: benchTopics,
  postgres: benchPostgres,
  verify: benchVerify,
  'control-plane': benchControlPlane,
  observability: benchObservability,
  day2: benchKafkaDay2,
  backup: benchBackup,
  'kafka-security': benchKafkaSecurity,
};

const BASELINE = path.join(ROOT, 'bench/baseline.json');

interface Baseline {
  readonly recordedAt: string;
  readonly machine: string;
  readonly figures: Record<string, number>;
}

function format(m: Measurement): string {
  if (m.unit === '%') return `${m.value.toFixed(1)} %`;
  if (m.unit === 'MiB') return `${m.value.toFixed(1)} MiB`;
  if (m.unit === 'msg/s') return `${m.value.toFixed(0)} msg/s`;
  return m.unit === 'x' ? `${m.value.toFixed(1)}x` : `${m.value.toFixed(0)} ms`;
}

async function main(): Promise<number> {
  const program = new Command('bench')
    .description('Run the benchmarks side by side and compare with the recorded baseline (bench/baseline.json).')
    .option('--only <names>', `comma-separated subset of: ${Object.keys(BENCHMARKS).join(', ')}`)
    .option('--record', 'write the figures as the new baseline')
    .parse();
  const options = program.opts<{ only?: string; record?: boolean }>();
  const names = options.only ? options.only.split(',') : Object.keys(BENCHMARKS);
  const unknown = names.filter((n) => !BENCHMARKS[n]);
  if (unknown.length) {
    console.error(`error: unknown benchmark(s): ${unknown.join(', ')}`);
    return 2;
  }
  const baseline: Baseline | undefined = fs.existsSync(BASELINE) ? JSON.parse(fs.readFileSync(BASELINE, 'utf8')) : undefined;
  // The engine benchmarks run the test harnesses, whose jars and binaries are prepared once per machine.
  if (names.some((name) => name !== 'synth')) await prepareEngines((line) => process.stderr.write(`${line}\n`));
  const results: Measurement[] = [];
  for (const name of names) {
    process.stderr.write(`running ${name} ...\n`);
    results.push(...(await BENCHMARKS[name]()));
  }
  console.log(`${'benchmark'.padEnd(72)} ${'now'.padStart(10)} ${'baseline'.padStart(10)}  target`);
  for (const m of results) {
    const before = baseline?.figures[m.id];
    const beforeText = before === undefined ? '-' : format({ ...m, value: before });
    console.log(`${(m.met ? '✓ ' : '✗ ') + m.id.padEnd(70)} ${format(m).padStart(10)} ${beforeText.padStart(10)}  ${m.target}`);
  }
  if (options.record) {
    const figures = { ...(baseline?.figures ?? {}), ...Object.fromEntries(results.map((m) => [m.id, Math.round(m.value * 10) / 10])) };
    const record: Baseline = { recordedAt: new Date().toISOString().slice(0, 10), machine: machineDescription(), figures };
    fs.writeFileSync(BASELINE, `${JSON.stringify(record, null, 2)}\n`);
    console.log(`baseline written to ${path.relative(ROOT, BASELINE)}`);
  }
  return results.every((m) => m.met) ? 0 : 1;
}

function machineDescription(): string {
  return `${os.cpus().length} cores, ${Math.round(os.totalmem() / 2 ** 30)} GiB, node ${process.version}`;
}

main().then(
  (code) => (process.exitCode = code),
  (error) => {
    console.error(`error: ${(error as Error).stack ?? error}`);
    process.exitCode = 2;
  },
);
