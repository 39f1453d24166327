import fs from 'node:fs';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

// Two test files run at a time (vitest.config.ts). Every suite that starts a Kafka test cluster takes the
// harness's host lock (its brokers bind fixed ports, test/harness/kafka/cluster.ts), so at most one of them
// runs at once and the others wait. The order keeps that wait short and the run short: the Kafka suite
// that holds the lock longest (kafka-production, ~8 of the ~19 serial minutes) starts first, the other
// files run beside it one after another, and the remaining Kafka suites come last, when nothing long
// holds the lock any more.

const STARTS_KAFKA = /\bKafkaTestCluster\.start\b|\bLoopbackStack\.start\b/;

function startsKafka(spec: TestSpecification): boolean {
  return STARTS_KAFKA.test(fs.readFileSync(spec.moduleId, 'utf8'));
}

export default class KafkaFirstSequencer extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    // The base order: files that failed last time first, then the longest (vitest's result cache), or the largest.
    const sorted = await super.sort(files);
    const kafka = sorted.filter(startsKafka);
    const others = sorted.filter((spec) => !kafka.includes(spec));
    return [...kafka.slice(0, 1), ...others, ...kafka.slice(1)];
  }
}
