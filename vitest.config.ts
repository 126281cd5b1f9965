import { defineConfig } from 'vitest/config';

// Two projects. `unit` (the tests beside the code, test/web, test/tools, test/structure: no services, no servers)
// runs its files in parallel on worker threads. `integration` (the rest of test/) shares the real Kafka, Redis and
// PostgreSQL and starts server processes, so its files run one at a time (one fork), after the unit files
// (sequence.groupOrder), never beside them. scripts/test.mjs runs both.
const UNIT = ['protocol/**/*.test.ts', 'src/**/*.test.ts', 'test/web/**/*.test.ts', 'test/tools/**/*.test.ts', 'test/structure/**/*.test.ts'];

export default defineConfig({
  test: {
    testTimeout: 60_000,
    hookTimeout: 120_000,
    globalSetup: ['test/support/build.ts'],
    // Test files that use kafkajs directly get the app's request-queue fix too (no 1 ms timer loop, no warning).
    setupFiles: ['test/support/kafkajs.ts'],
    reporters: ['default'],
    poolOptions: {
      threads: { maxThreads: 2, minThreads: 1 },
      forks: { maxForks: 1, minForks: 1 },
    },
    projects: [
      { extends: true, test: { name: 'unit', include: UNIT, pool: 'threads', sequence: { groupOrder: 0 } } },
      { extends: true, test: { name: 'integration', include: ['test/**/*.test.ts'], exclude: UNIT, pool: 'forks', sequence: { groupOrder: 1 } } },
    ],
  },
});
