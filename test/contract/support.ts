// Helpers shared by the contract suites and their child-process fixtures: unique ids, quiet loggers, no-op metrics,
// messages to append, temporary folders. (Deadlines: waitFor in test/support/cluster.ts.)
import { randomInt, randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino, type Logger } from 'pino';
import type { Metrics } from '../../src/metrics/metrics.js';
import type { NewMessage } from '../../src/shared/model.js';

/** A logger for the adapters under test: silent unless TEST_LOG_LEVEL asks. */
export function testLogger(): Logger {
  return pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
}

/** Metrics that record nothing (adapters call observe/inc/set on them). */
export const noMetrics = new Proxy(
  {},
  { get: () => ({ observe() {}, inc() {}, set() {}, dec() {}, reset() {}, startTimer: () => () => 0 }) },
) as unknown as Metrics;

/**
 * A room id no other test or server on the shared services uses: a random 18-digit decimal (a canonical bigint id,
 * as the adapters expect).
 */
export function uniqueRoomId(): string {
  return `${randomInt(1, 9)}${String(randomInt(0, 2 ** 47)).padStart(17, '0')}`.slice(0, 18);
}

/** A run-unique suffix for names (groups, emails, keys). */
export function uniqueName(prefix: string): string {
  return `${prefix}-${randomUUID().slice(0, 12)}`;
}

export function newMessage(roomId: string, content: string, over: Partial<NewMessage> = {}): NewMessage {
  return {
    id: randomUUID(),
    roomId,
    senderId: '1',
    type: 'TEXT',
    content,
    idempotencyKey: null,
    createdAt: new Date().toISOString(),
    ...over,
  };
}

/** A temporary folder removed by the returned function. */
export async function tempDir(prefix: string): Promise<{ dir: string; remove(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), `${prefix}-`));
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}

/** Temporary folders made on demand (`make` resolves with the path), all removed by `removeAll`. */
export function tempDirs(prefix: string): { make(): Promise<string>; removeAll(): Promise<void> } {
  const made: Array<{ remove(): Promise<void> }> = [];
  return {
    async make() {
      const f = await tempDir(prefix);
      made.push(f);
      return f.dir;
    },
    async removeAll() {
      for (const f of made.splice(0)) await f.remove();
    },
  };
}

/** An error the consumer runner classifies as an outage (retried without end, never dead-lettered). */
export function outage(message = 'connect ECONNREFUSED (simulated outage)'): Error {
  return Object.assign(new Error(message), { code: 'ECONNREFUSED' });
}
