// ProduceLane against a fake kafkajs producer whose sends the test settles by hand: one send at a time, never
// abandoned by a caller's deadline, records placed by topic and partition, a fatal error replacing the producer.
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { createMetrics } from '../metrics/metrics.js';
import { ProduceLane, placeRecords, type LaneRecord } from './produce-lane.js';
import type { Producer, RecordMetadata } from './kafkajs.js';
import { LogUnavailableError } from '../log/message-log.js';

interface Sent {
  topicMessages: Array<{ topic: string; messages: Array<{ partition: number; value: string | Buffer }> }>;
  resolve(r: RecordMetadata[]): void;
  reject(e: unknown): void;
}

/** A producer whose sendBatch calls wait until the test answers them. */
function fakeProducer(opts: { connectFails?: () => boolean } = {}) {
  const sends: Sent[] = [];
  const state = { connects: 0, disconnects: 0 };
  const producer = {
    connect: async () => {
      state.connects++;
      if (opts.connectFails?.()) throw Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
    },
    disconnect: async () => void state.disconnects++,
    sendBatch: (b: { topicMessages: Sent['topicMessages'] }) =>
      new Promise<RecordMetadata[]>((resolve, reject) => sends.push({ topicMessages: b.topicMessages, resolve, reject })),
  };
  return { producer: producer as unknown as Producer, sends, state };
}

const meta = (topicName: string, partition: number, baseOffset: string) => ({ topicName, partition, errorCode: 0, baseOffset }) as RecordMetadata;
const rec = (partition: number, value: string, topic = 'chat.messages'): LaneRecord => ({ topic, partition, key: String(partition), value });
const until = async (cond: () => boolean, ms = 2000) => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met');
    await new Promise((r) => setTimeout(r, 5));
  }
};

function lane(producers: Array<ReturnType<typeof fakeProducer>>, timeoutMs = 10_000, lingerMs = 1) {
  let made = 0;
  return new ProduceLane({
    createProducer: () => producers[made++]!.producer,
    log: pino({ level: 'silent' }),
    metrics: createMetrics('lane-test'),
    lingerMs,
    maxBatch: 100,
    timeoutMs,
  });
}

describe('ProduceLane', () => {
  it('one send at a time: what queues meanwhile goes out in the next request, each record placed by its partition', async () => {
    const p = fakeProducer();
    const l = lane([p]);
    const first = l.send(rec(1, 'a'));
    await until(() => p.sends.length === 1);
    const later = [l.send(rec(1, 'b')), l.send(rec(2, 'c')), l.send(rec(1, 'd')), l.send(rec(0, 'r', 'chat.read-receipts'))];
    await new Promise((r) => setTimeout(r, 30));
    expect(p.sends.length).toBe(1); // nothing else while the first is in flight
    p.sends[0]!.resolve([meta('chat.messages', 1, '41')]);
    expect(await first).toEqual({ partition: 1, offset: '41', seq: '42' });
    await until(() => p.sends.length === 2);
    expect(p.sends[1]!.topicMessages.map((t) => [t.topic, t.messages.map((m) => String(m.value))])).toEqual([
      ['chat.messages', ['b', 'c', 'd']],
      ['chat.read-receipts', ['r']],
    ]);
    p.sends[1]!.resolve([meta('chat.messages', 1, '42'), meta('chat.messages', 2, '7'), meta('chat.read-receipts', 0, '3')]);
    expect(await Promise.all(later)).toEqual([
      { partition: 1, offset: '42', seq: '43' },
      { partition: 2, offset: '7', seq: '8' },
      { partition: 1, offset: '43', seq: '44' },
      { partition: 0, offset: '3', seq: '4' },
    ]);
  });

  it('lingerMs 0: records that find the lane idle go at once, those of the same turn in one request; no timer between', async () => {
    const p = fakeProducer();
    const l = lane([p], 10_000, 0);
    await l.connect();
    const first = [l.send(rec(1, 'a')), l.send(rec(2, 'b'))];
    // An immediate queued after the sends runs after the lane's own: a linger timer (even of 1 ms) would come later.
    await new Promise((r) => setImmediate(r));
    expect(p.sends.map((s) => s.topicMessages[0]!.messages.map((m) => String(m.value)))).toEqual([['a', 'b']]);
    const during = [l.send(rec(1, 'c')), l.send(rec(1, 'd'))];
    await new Promise((r) => setImmediate(r));
    expect(p.sends).toHaveLength(1);
    p.sends[0]!.resolve([meta('chat.messages', 1, '10'), meta('chat.messages', 2, '20')]);
    expect(await Promise.all(first)).toEqual([
      { partition: 1, offset: '10', seq: '11' },
      { partition: 2, offset: '20', seq: '21' },
    ]);
    await new Promise((r) => setImmediate(r));
    expect(p.sends.map((s) => s.topicMessages[0]!.messages.map((m) => String(m.value)))).toEqual([
      ['a', 'b'],
      ['c', 'd'],
    ]);
    p.sends[1]!.resolve([meta('chat.messages', 1, '11')]);
    expect((await Promise.all(during)).map((a) => a.offset)).toEqual(['11', '12']);
    await l.close(1000);
  });

  it('lingerMs > 0: an idle lane sends at once; right after a request settled, records gather for lingerMs', async () => {
    const p = fakeProducer();
    const l = lane([p], 10_000, 200);
    await l.connect();
    const immediate = () => new Promise((r) => setImmediate(r));
    const first = l.send(rec(1, 'a'));
    await immediate();
    expect(p.sends).toHaveLength(1); // idle: no linger
    p.sends[0]!.resolve([meta('chat.messages', 1, '10')]);
    await first;
    const settled = Date.now();
    const busy = [l.send(rec(1, 'b')), l.send(rec(1, 'c'))];
    await immediate();
    expect(p.sends).toHaveLength(1); // the lane was busy a moment ago: these wait for company
    await until(() => p.sends.length === 2);
    expect(Date.now() - settled).toBeGreaterThanOrEqual(190);
    expect(p.sends[1]!.topicMessages[0]!.messages.map((m) => String(m.value))).toEqual(['b', 'c']);
    p.sends[1]!.resolve([meta('chat.messages', 1, '11')]);
    await Promise.all(busy);
    await new Promise((r) => setTimeout(r, 220));
    void l.send(rec(1, 'd'));
    await immediate();
    expect(p.sends).toHaveLength(3); // idle again
    p.sends[2]!.resolve([meta('chat.messages', 1, '13')]);
    await l.close(1000);
  });

  it('a deadline passing in the queue: rejected as never sent, and it is not sent', async () => {
    const p = fakeProducer();
    const l = lane([p], 150);
    const first = l.send(rec(1, 'a'));
    await until(() => p.sends.length === 1);
    const queued = l.send(rec(1, 'b'));
    const err = await queued.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LogUnavailableError);
    expect((err as LogUnavailableError).inDoubt).toBe(false);
    p.sends[0]!.resolve([meta('chat.messages', 1, '0')]);
    await first.catch(() => {});
    await new Promise((r) => setTimeout(r, 30));
    expect(p.sends.length).toBe(1);
  });

  it('a deadline passing in flight: the caller is told "in doubt", the send goes on, its outcome arrives later, and nothing overtakes it', async () => {
    const p = fakeProducer();
    const l = lane([p], 150);
    const err = (await l.send(rec(3, 'a')).catch((e: unknown) => e)) as LogUnavailableError;
    expect(err.inDoubt).toBe(true);
    const next = l.send(rec(3, 'b'));
    await new Promise((r) => setTimeout(r, 30));
    expect(p.sends.length).toBe(1); // the in-doubt send still holds the lane
    p.sends[0]!.resolve([meta('chat.messages', 3, '9')]);
    expect(await err.outcome).toEqual({ partition: 3, offset: '9', seq: '10' });
    await until(() => p.sends.length === 2);
    p.sends[1]!.resolve([meta('chat.messages', 3, '10')]);
    expect(await next).toEqual({ partition: 3, offset: '10', seq: '11' });
  });

  it('a fatal send error: its records are in doubt ("unknown"), the producer is replaced before anything else is sent', async () => {
    const [a, b] = [fakeProducer(), fakeProducer()];
    const l = lane([a, b]);
    const doomed = l.send(rec(0, 'a'));
    await until(() => a.sends.length === 1);
    const after = l.send(rec(0, 'b'));
    a.sends[0]!.reject(Object.assign(new Error('The broker received an out of order sequence number'), { type: 'OUT_OF_ORDER_SEQUENCE_NUMBER' }));
    const err = (await doomed.catch((e: unknown) => e)) as LogUnavailableError;
    expect(err.inDoubt).toBe(true);
    expect(await err.outcome).toBe('unknown');
    await until(() => b.sends.length === 1);
    expect(a.state.disconnects).toBe(1);
    expect(a.sends.length).toBe(1);
    b.sends[0]!.resolve([meta('chat.messages', 0, '5')]);
    expect(await after).toEqual({ partition: 0, offset: '5', seq: '6' });
  });

  it('Kafka unreachable at connect: nothing is sent, the lane tries again, and records time out as never sent', async () => {
    let down = true;
    const p = fakeProducer({ connectFails: () => down });
    // The lane tries to connect again after a second: a deadline shorter than two tries ends the first record.
    const l = lane([p], 1500);
    const err = (await l.send(rec(0, 'a')).catch((e: unknown) => e)) as LogUnavailableError;
    expect(err.inDoubt).toBe(false);
    expect(p.sends.length).toBe(0);
    down = false;
    const ok = l.send(rec(0, 'b'));
    await until(() => p.sends.length === 1, 4000);
    p.sends[0]!.resolve([meta('chat.messages', 0, '0')]);
    expect((await ok).seq).toBe('1');
    expect(p.state.connects).toBeGreaterThanOrEqual(2);
  });

  it('close waits a bounded time for the send in flight, then answers every record', async () => {
    const p = fakeProducer();
    const l = lane([p]);
    const inFlight = l.send(rec(0, 'a'));
    await until(() => p.sends.length === 1);
    const queued = l.send(rec(0, 'b'));
    const t0 = Date.now();
    await l.close(200);
    expect(Date.now() - t0).toBeLessThan(2000);
    expect(((await inFlight.catch((e: unknown) => e)) as LogUnavailableError).inDoubt).toBe(true);
    expect(((await queued.catch((e: unknown) => e)) as LogUnavailableError).inDoubt).toBe(false);
    expect(((await l.send(rec(0, 'c')).catch((e: unknown) => e)) as LogUnavailableError).inDoubt).toBe(false);
  });
});

describe('placeRecords', () => {
  it('maps records to base offsets per topic and partition, in request order', () => {
    const places = placeRecords(
      [rec(1, ''), rec(0, '', 'x'), rec(1, ''), rec(0, '')],
      [meta('chat.messages', 1, '10'), meta('x', 0, '3'), meta('chat.messages', 0, '0')],
    );
    expect(places.map((p) => p.offset)).toEqual(['10', '3', '11', '0']);
  });

  it('throws when the answer lacks a partition that was written (kafkajs dropped it)', () => {
    expect(() => placeRecords([rec(1, ''), rec(2, '')], [meta('chat.messages', 1, '10')])).toThrow(/chat.messages\/2/);
  });
});
