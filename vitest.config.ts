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
    fileParallelism: false,
    reporters: ['default'],
  },
});
