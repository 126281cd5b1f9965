// The corrected kafkajs send against a fake cluster: the two failures measured on a 3-node cluster under a leader
// kill — a partition moving to a broker that already answered was never sent again, and a partition still in flight
// was sent a second time under new sequence numbers — cannot happen here.
import { describe, expect, it } from 'vitest';
import { createSendMessages } from './kafkajs-send-messages.js';

interface Request {
  broker: string;
  partitions: Array<{ partition: number; firstSequence: number; count: number }>;
  startedAt: number;
}

function fakeCluster(leaders: Map<number, string>) {
  const requests: Request[] = [];
  const sequences = new Map<number, number>();
  const behaviour = new Map<string, (req: Request) => Promise<void>>();
  const brokers = new Map(
    ['A', 'B'].map((id) => [
      id,
      {
        nodeId: id,
        async produce(r: { topicData: Array<{ topic: string; partitions: Array<{ partition: number; firstSequence: number; messages: unknown[] }> }> }) {
          const req: Request = {
            broker: id,
            startedAt: Date.now(),
            partitions: r.topicData[0]!.partitions.map((p) => ({ partition: p.partition, firstSequence: p.firstSequence, count: p.messages.length })),
          };
          requests.push(req);
          await (behaviour.get(id) ?? (async () => {}))(req);
          return {
            topics: r.topicData.map((t) => ({
              topicName: t.topic,
              partitions: t.partitions.map((p) => ({ partition: p.partition, errorCode: 0, baseOffset: String(100 + p.partition) })),
            })),
          };
        },
      },
    ]),
  );
  // kafkajs' broker lock: one request per broker at a time, taken in turn
  const locks = new Map<string, { tail: Promise<void>; releases: Array<() => void> }>();
  const lockOf = (id: string) => locks.get(id) ?? locks.set(id, { tail: Promise.resolve(), releases: [] }).get(id)!;
  const internals = {
    logger: { debug() {}, error() {} },
    partitioner: ({ message }: { message: { partition: number } }) => message.partition,
    cluster: {
      refreshMetadataIfNecessary: async () => {},
      refreshMetadata: async () => {},
      findTopicPartitionMetadata: () => [...leaders.keys()].map((p) => ({ partitionId: p, leader: leaders.get(p) })),
      findLeaderForPartitions: (_t: string, partitions: string[]) => {
        const out: Record<string, number[]> = {};
        for (const p of partitions) (out[leaders.get(Number(p))!] ??= []).push(Number(p));
        return out;
      },
      findBroker: async ({ nodeId }: { nodeId: string }) => brokers.get(nodeId)!,
      addMultipleTargetTopics: async () => {},
      isConnected: () => true,
      connect: async () => {},
      removeBroker() {},
      targetTopics: new Set<string>(),
    },
    eosManager: {
      acquireBrokerLock: async (b: { nodeId: string }) => {
        const lock = lockOf(b.nodeId);
        const before = lock.tail;
        lock.tail = new Promise<void>((r) => lock.releases.push(r));
        await before;
      },
      releaseBrokerLock: async (b: { nodeId: string }) => lockOf(b.nodeId).releases.shift()?.(),
      isTransactional: () => false,
      addPartitionsToTransaction: async () => {},
      getSequence: (_t: string, p: number) => sequences.get(p) ?? 0,
      updateSequence: (_t: string, p: number, n: number) => void sequences.set(p, (sequences.get(p) ?? 0) + n),
      getTransactionalId: () => 'x',
      getProducerId: () => 1,
      getProducerEpoch: () => 0,
    },
    // kafkajs' retrier: try again on a throw (a short pause), give up through bail
    retrier: async <T>(fn: (bail: (e: unknown) => void, n: number, t: number) => Promise<T>) => {
      for (let n = 0; ; n++) {
        let bailed: unknown = null;
        try {
          const v = await fn((e) => (bailed = e), n, 10);
          if (bailed) throw bailed;
          return v;
        } catch (e) {
          if (bailed || n > 5) throw e;
          await new Promise((r) => setTimeout(r, 10));
        }
      }
    },
  };
  return { internals, requests, behaviour, sequences };
}

const closed = () => Object.assign(new Error('Closed connection'), { name: 'KafkaJSConnectionClosedError', host: 'b', port: 1 });
const messages = (partitions: number[]) => partitions.map((partition) => ({ partition, value: 'v' }));

describe('kafkajs send, corrected', () => {
  it('a partition whose leader moved to a broker that already answered is sent again there, with its old sequence numbers', async () => {
    const leaders = new Map([
      [0, 'A'],
      [1, 'B'],
    ]);
    const { internals, requests, behaviour } = fakeCluster(leaders);
    behaviour.set('B', async () => {
      leaders.set(1, 'A'); // B dies; its partition moves to A
      throw closed();
    });
    const send = createSendMessages(internals as never);
    const answers = await send({ acks: -1, timeout: 30_000, compression: 0, topicMessages: [{ topic: 't', messages: messages([0, 1, 1]) }] });
    expect(answers.map((a) => a.partition).sort()).toEqual([0, 1]);
    const toA = requests.filter((r) => r.broker === 'A').flatMap((r) => r.partitions);
    expect(toA).toEqual([
      { partition: 0, firstSequence: 0, count: 1 },
      { partition: 1, firstSequence: 0, count: 2 },
    ]);
  });

  it('a partition still in flight is never sent again: the next attempt waits until every request of this one settled', async () => {
    const leaders = new Map([
      [0, 'A'],
      [1, 'B'],
    ]);
    const { internals, requests, behaviour, sequences } = fakeCluster(leaders);
    let slowDone = 0;
    behaviour.set('A', async () => {
      await new Promise((r) => setTimeout(r, 150)); // acks=all waiting on a dead follower
      slowDone = Date.now();
    });
    let failures = 1;
    behaviour.set('B', async () => {
      if (failures-- > 0) throw closed();
    });
    const send = createSendMessages(internals as never);
    const answers = await send({ acks: -1, timeout: 30_000, compression: 0, topicMessages: [{ topic: 't', messages: messages([0, 1]) }] });
    expect(answers.map((a) => a.partition).sort()).toEqual([0, 1]);
    expect(requests.filter((r) => r.broker === 'A')).toHaveLength(1); // partition 0 written once
    const retry = requests.filter((r) => r.broker === 'B')[1]!;
    expect(retry.startedAt).toBeGreaterThanOrEqual(slowDone);
    expect(retry.partitions).toEqual([{ partition: 1, firstSequence: 0, count: 1 }]); // rolled back, then sent again
    expect([sequences.get(0), sequences.get(1)]).toEqual([1, 1]);
  });
});
