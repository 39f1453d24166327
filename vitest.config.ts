import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Engine suites (Kafka brokers, PostgreSQL, daprd) are heavy on a 2-core machine: one file at a time
    // keeps their timings honest and their ports apart.
    fileParallelism: false,
    testTimeout: 60_000,
    hookTimeout: 300_000,
    reporters: ['default', './test/summary-reporter.ts'],
  },
});
