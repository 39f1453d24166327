import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Engine suites (Kafka brokers, PostgreSQL, Dapr components) are heavy on a 2-core machine: one file at a time
    // keeps their timings honest and their ports apart.
    fileParallelism: false,
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
