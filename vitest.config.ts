import { defineConfig } from 'vitest/config';

// Unit tests run in parallel; integration and e2e tests share the real Kafka/Redis/PostgreSQL
// and start server processes, so they run one file at a time (see scripts/test.mjs).
export default defineConfig({
  test: {
    include: ['protocol/**/*.test.ts', 'src/**/*.test.ts', 'test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    globalSetup: ['test/support/build.ts'],
    // Test files that use kafkajs directly get the app's request-queue fix too (no 1 ms timer loop, no warning).
    setupFiles: ['test/support/kafkajs.ts'],
    fileParallelism: false,
    reporters: ['default'],
  },
});
