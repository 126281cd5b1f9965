// The broadcast group's handler with a recording bus: the batches handed over in one event-loop turn (the
// partitions of one fetch) share one publish call; a failed call fails every batch in it.
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { RoomPublish } from '../fanout/fanout.js';
import type { ConsumedRecord } from '../log/message-log.js';
import { broadcastHandler } from './broadcast.js';

let offset = 0;
/** One partition's batch: one message per room, each at the next seq. */
const batch = (partition: number, roomIds: string[]): ConsumedRecord[] =>
  roomIds.map((roomId) => ({
    topic: 'chat.messages',
    partition,
    offset: String(offset++),
    key: roomId,
    headers: {},
    value: Buffer.from(
      JSON.stringify({ id: randomUUID(), roomId, senderId: '1', type: 'TEXT', content: 'hi', idempotencyKey: null, createdAt: new Date().toISOString() }),
    ),
  }));

function setup(fail = false) {
  const calls: string[][] = [];
  const bus = {
    publishRooms: async (rooms: readonly RoomPublish[]) => {
      calls.push(rooms.map((r) => r.roomId));
      if (fail) throw new Error('bus down');
    },
  };
  const handle = broadcastHandler(bus, { storedSeqs: async () => new Map() }, { memberIds: async (ids) => new Map(ids.map((id) => [id, ['1', '2']])) });
  return { handle, calls };
}

describe('broadcast: one publish call per turn', () => {
  it('publishes the rooms of the batches handed over in one turn in one call, and a later turn in another', async () => {
    const { handle, calls } = setup();
    await Promise.all([handle(batch(0, ['11', '12'])), handle(batch(1, ['13'])), handle(batch(2, ['14']))]);
    expect(calls).toEqual([['11', '12', '13', '14']]);
    await handle(batch(0, ['11']));
    expect(calls).toEqual([['11', '12', '13', '14'], ['11']]);
  });

  it('fails every batch of a call that failed (each is retried; the bus drops what a room already had)', async () => {
    const { handle, calls } = setup(true);
    const results = await Promise.allSettled([handle(batch(0, ['11'])), handle(batch(1, ['12']))]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    expect(calls).toEqual([['11', '12']]);
  });
});
