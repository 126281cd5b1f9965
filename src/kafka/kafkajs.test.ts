// kafkajs is loaded with its fixes in place: the producer and the consumer take the corrected internals, and a
// process that loaded kafkajs before the wrapper fails loudly instead of running the unfixed code.
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { createFetcher } from './kafkajs-fetcher.js';
import { createSendMessages } from './kafkajs-send-messages.js';
import { Kafka } from './kafkajs.js';

const require = createRequire(import.meta.url);

describe('src/kafka/kafkajs.ts', () => {
  it('installs the corrected send and fetcher where kafkajs takes them', () => {
    expect(require.cache[require.resolve('kafkajs/src/producer/sendMessages.js')]?.exports).toBe(createSendMessages);
    expect(require.cache[require.resolve('kafkajs/src/consumer/fetcher.js')]?.exports).toBe(createFetcher);
    expect(new Kafka({ brokers: ['127.0.0.1:1'], logLevel: 0 }).producer({ idempotent: true })).toBeDefined();
  });

  it('refuses to load after kafkajs itself was loaded (its producer would keep the unfixed send)', () => {
    const root = fileURLToPath(new URL('../..', import.meta.url));
    const r = spawnSync(
      process.execPath,
      ['--import', 'tsx', '--input-type=module', '-e', "await import('kafkajs'); await import('./src/kafka/kafkajs.ts');"],
      {
        cwd: root,
        encoding: 'utf8',
      },
    );
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/kafkajs was loaded before src\/kafka\/kafkajs\.ts installed its fixes/);
  });
});
