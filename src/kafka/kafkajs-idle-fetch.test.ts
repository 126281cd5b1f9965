// The idle rule of the throughput groups' fetches: after an empty fetch, one byte and IDLE_WAIT_MS; after records,
// the group's own waits again. A latency group (minBytes 1) is left alone.
import { describe, expect, it } from 'vitest';
import './kafkajs.js';
import { IDLE_WAIT_MS, idleAwareFetch, kafkajsConsumerGroup, type ConsumerGroupLike } from './kafkajs-idle-fetch.js';

const batch = (empty: boolean) => ({ isEmpty: () => empty });

/** A group whose original fetch records the settings it was called with and answers from `answers` in turn. */
function group(minBytes: number, maxWaitTime: number, answers: boolean[]) {
  const seen: Array<[number, number]> = [];
  const original = async function (this: ConsumerGroupLike) {
    seen.push([this.minBytes, this.maxWaitTime]);
    const hasRecords = answers.shift()!;
    // A fetch answers with a batch per partition, empty ones included.
    return [batch(true), batch(!hasRecords)];
  };
  const g = { minBytes, maxWaitTime, fetch: idleAwareFetch(original) } as ConsumerGroupLike;
  return { g, seen };
}

describe('idle fetches of the throughput groups', () => {
  it('after an empty fetch waits for one byte, after records uses the group settings again', async () => {
    const { g, seen } = group(64 * 1024, 100, [true, false, false, true, true, false]);
    for (let i = 0; i < 6; i++) await g.fetch(1);
    const busy: [number, number] = [64 * 1024, 100];
    const idle: [number, number] = [1, IDLE_WAIT_MS];
    expect(seen).toEqual([busy, busy, idle, idle, busy, busy]);
  });

  it('leaves a latency group (minBytes 1) as it is', async () => {
    const { g, seen } = group(1, 500, [false, false, true]);
    for (let i = 0; i < 3; i++) await g.fetch(1);
    expect(seen).toEqual([
      [1, 500],
      [1, 500],
      [1, 500],
    ]);
  });

  it('is installed on the kafkajs this process loads', () => {
    expect(kafkajsConsumerGroup().prototype.fetch.toString()).toContain('own.idle');
  });
});
