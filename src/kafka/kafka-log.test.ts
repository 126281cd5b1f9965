// KafkaMessageLog's transactions against a fake kafkajs client whose transactions the test settles by hand: a
// transaction that outlives its caller's deadline is "in doubt" (it may still commit), and one whose caller gave up
// before its turn came is never started ("not written").
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { createMetrics } from '../metrics/metrics.js';
import { LogUnavailableError } from '../log/message-log.js';
import type { NewMessage } from '../shared/model.js';
import { KafkaMessageLog } from './kafka-log.js';
import type { Kafka } from './kafkajs.js';

function fakeKafka() {
  const transactions: Array<{ commit: () => void; sent: number }> = [];
  const txProducer = {
    connect: async () => {},
    disconnect: async () => {},
    transaction: async () => {
      let commit!: () => void;
      const committed = new Promise<void>((r) => (commit = r));
      const tx = { commit, sent: 0 };
      transactions.push(tx);
      return {
        send: async (b: { topic: string; messages: Array<{ partition: number }> }) => {
          tx.sent = b.messages.length;
          // One answer per partition, as Kafka gives: its base offset.
          return [...new Set(b.messages.map((m) => m.partition))].map((partition) => ({
            topicName: b.topic,
            partition,
            errorCode: 0,
            baseOffset: String(10 * transactions.length),
          }));
        },
        commit: () => committed,
        abort: async () => {},
      };
    },
  };
  const plain = { connect: async () => {}, disconnect: async () => {}, sendBatch: async () => [] };
  const kafka = {
    producer: (opts: { transactionalId?: string }) => (opts.transactionalId ? txProducer : plain),
    admin: () => ({
      connect: async () => {},
      disconnect: async () => {},
      fetchTopicMetadata: async ({ topics }: { topics: string[] }) => ({
        topics: topics.map((name) => ({ name, partitions: [0, 1, 2, 3, 4, 5].map((partitionId) => ({ partitionId })) })),
      }),
    }),
  };
  return { kafka: kafka as unknown as Kafka, transactions };
}

const message = (id: string): NewMessage => ({
  id,
  roomId: '7',
  senderId: '1',
  type: 'TEXT',
  content: id,
  idempotencyKey: null,
  createdAt: new Date().toISOString(),
});

describe('KafkaMessageLog.appendAtomically', () => {
  it('in doubt after the deadline (the outcome arrives later); a transaction still waiting for its turn is abandoned, never started', async () => {
    const { kafka, transactions } = fakeKafka();
    const log = new KafkaMessageLog({
      kafka,
      instanceId: 't',
      log: pino({ level: 'silent' }),
      metrics: createMetrics('kafka-log-test'),
      lingerMs: 1,
      appendTimeoutMs: 150,
    });
    await log.connect();
    const failed = (p: Promise<unknown>) =>
      p.then(
        () => null,
        (e: unknown) => e as LogUnavailableError,
      );
    const first = failed(log.appendAtomically([message('a'), message('b')]));
    const second = failed(log.appendAtomically([message('c')]));
    const [e1, e2] = await Promise.all([first, second]);
    expect(e1).toBeInstanceOf(LogUnavailableError);
    expect(e1!.inDoubt).toBe(true);
    expect(e2!.inDoubt).toBe(false); // its turn never came
    transactions[0]!.commit();
    expect(await e1!.outcome).toEqual({ partition: 1, offset: '10', seq: '11' });
    await new Promise((r) => setTimeout(r, 20));
    expect(transactions).toHaveLength(1); // the abandoned one was not started after the first finished
    // The next transaction runs normally.
    const third = log.appendAtomically([message('d')]);
    await new Promise((r) => setTimeout(r, 20));
    transactions[1]!.commit();
    expect(await third).toEqual([{ partition: 1, offset: '20', seq: '21' }]);
    await log.close();
  });
});
