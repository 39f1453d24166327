import { defineConfig } from 'vitest/config';
import KafkaFirstSequencer from './test/support/sequencer';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Two files at a time: the engine suites mostly wait (a broker catching up, a pod's grace period), so the
    // long Kafka day-2 suite runs beside the others instead of before or after them. Their ports stay apart:
    // the control plane and PostgreSQL take free ports, Kafka clusters take turns through a host lock (the
    // sequencer orders the files around it).
    maxWorkers: 2,
    minWorkers: 1,
    sequence: { sequencer: KafkaFirstSequencer },
    testTimeout: 60_000,
    // Builds and downloads (Go, Maven) happen once per machine in globalSetup, before the workers start;
    // hooks only start engines (brokers, PostgreSQL, a control plane).
    globalSetup: ['./test/support/global-setup.ts'],
    // After every test, one turn of the event loop (see the file).
    setupFiles: ['./test/support/yield-between-tests.ts'],
    hookTimeout: 300_000,
    reporters: ['default', './test/summary-reporter.ts'],
  },
});
