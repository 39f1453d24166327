import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Engine suites (Kafka brokers, PostgreSQL, Dapr components) are heavy on a 2-core machine: one file at a time
    // keeps their timings honest and their ports apart.
    fileParallelism: false,
    testTimeout: 60_000,
    // A first run on a fresh machine builds Dapr's component code with Go and fetches Kafka's jars
    // from Maven Central inside beforeAll hooks: minutes, once; cached afterwards.
    hookTimeout: 1_200_000,
    reporters: ['default', './test/summary-reporter.ts'],
  },
});
