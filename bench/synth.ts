import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as yaml from 'js-yaml';
import { atLeast, atMost, type Measurement, timeCommand } from './measure';

/**
 * `npm run synth` against the cdk8s default app command (`npx ts-node main.ts` under `cdk8s synth`)
 * on the same constructs, and synth of 1,000 topics on 30 brokers against the default stack.
 */
export function benchSynth(): Measurement[] {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'learnflow-bench-synth-'));
  try {
    const out = (name: string) => ['--out', path.join(work, name), '--quiet'];
    const npmSynth = timeCommand('npm', ['run', '-s', 'synth', '--', ...out('npm')], 5);
    const nodeSynth = timeCommand(process.execPath, ['build/main.js', ...out('node')], 5);
    const cdk8sTsNode = timeCommand('npx', ['cdk8s', 'synth', '--app', 'npx ts-node main.ts', '--output', path.join(work, 'cdk8s')], 2);

    const large = path.join(work, 'large.yaml');
    fs.writeFileSync(
      large,
      yaml.dump({
        kafka: {
          brokers: 30,
          controllers: 3,
          dedicatedControllers: true,
          topics: Array.from({ length: 1000 }, (_, i) => ({ name: `bench.topic.${i}`, partitions: 1 + (i % 12), retention: '7d' })),
        },
      }),
    );
    const largeSynth = timeCommand(process.execPath, ['build/main.js', '--config', large, ...out('large')], 5);

    return [
      atMost('synth: npm run synth (default stack)', npmSynth, 500),
      { ...atMost('synth: node build/main.js (default stack, without npm)', nodeSynth, 500) },
      { ...atMost('synth: cdk8s synth with npx ts-node main.ts (reference)', cdk8sTsNode, Infinity), target: 'reference' },
      atLeast('synth: speed-up of npm run synth over cdk8s + ts-node', cdk8sTsNode / npmSynth, 10),
      atMost('synth: 1,000 topics on 30 brokers (node build/main.js)', largeSynth, 2 * nodeSynth),
      atLeast('synth: default stack time / 1,000-topic time (>= 0.5 means <= 2x)', nodeSynth / largeSynth, 0.5),
    ];
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}
