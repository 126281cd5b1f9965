// The notify group's unread counter through notifyHandler, with plain fakes for the store, presence and events:
// counts kept incrementally per member and room, the store asked only when a count is unknown or the reader
// moved, recounted after a gap in the partition, own messages never counted, offline members given notification
// rows, events coalesced per member and room, and the rooms kept in memory bounded.
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { ConsumedRecord } from '../log/message-log.js';
import { notifyHandler, type NotifyDeps } from './notify.js';

interface Sent {
  roomId: string;
  senderId: string;
  seq: number;
}

/** A room 7 with members 1, 2, 3; the store counts over what earlier batches "persisted". */
function setup(over: Partial<NotifyDeps> & { online?: string[] } = {}) {
  const stored: Sent[] = [];
  const positions = new Map<string, Map<string, string>>();
  const online = new Set(over.online ?? ['1', '2', '3']);
  const seen = {
    counts: 0,
    countItems: 0,
    notifications: [] as Array<{ userId: string; seq: string }>,
    events: [] as Array<{ userId: string; body: { roomId: string; unreadCount: number; upToSeq: string } }>,
  };
  const deps: NotifyDeps = {
    store: {
      insertNotifications: async (rows) => (seen.notifications.push(...rows.map((r) => ({ userId: r.userId, seq: r.seq }))), rows.length),
      countUnreadBefore: async (items) => {
        seen.counts++;
        seen.countItems += items.length;
        return items.map(
          (it) =>
            stored.filter((m) => m.roomId === it.roomId && m.senderId !== it.userId && m.seq > Number(it.afterSeq) && m.seq < Number(it.beforeSeq)).length,
        );
      },
    },
    members: { memberIds: async (ids) => new Map(ids.map((id) => [id, ['1', '2', '3']])) },
    presence: { onlineUsers: async (ids) => new Set(ids.filter((u) => online.has(u))) },
    events: { usersQuietly: async (_type, list) => void seen.events.push(...list.map(({ userId, body }) => ({ userId, body: body as never }))) },
    cachedPositions: async (roomId) => positions.get(roomId) ?? null,
    positions: async (roomId) => positions.get(roomId) ?? new Map(),
    unreadEveryMs: 0,
    ...over,
  };
  const handle = notifyHandler(deps);
  let offset = 0;
  /** One batch of one partition: messages (room, sender) at consecutive offsets from `at` (default: the next). */
  const batch = async (messages: Array<[roomId: string, senderId: string]>, at = offset) => {
    const records: ConsumedRecord[] = messages.map(([roomId, senderId], i) => ({
      topic: 'chat.messages',
      partition: 0,
      offset: String(at + i),
      key: roomId,
      headers: {},
      value: Buffer.from(
        JSON.stringify({ id: randomUUID(), roomId, senderId, type: 'TEXT', content: 'hi', idempotencyKey: null, createdAt: new Date().toISOString() }),
      ),
    }));
    await handle(records);
    offset = at + messages.length;
    stored.push(...messages.map(([roomId, senderId], i) => ({ roomId, senderId, seq: at + i + 1 })));
  };
  const last = (userId: string, roomId = '7') => [...seen.events].reverse().find((e) => e.userId === userId && e.body.roomId === roomId)?.body.unreadCount;
  return { batch, seen, positions, online, last, stored };
}

describe('notify: the unread counter', () => {
  it('counts from the store once, then adds each batch without asking again', async () => {
    const s = setup();
    s.stored.push({ roomId: '7', senderId: '1', seq: -1 }); // ignored: below every read position
    await s.batch([
      ['7', '1'],
      ['7', '1'],
    ]);
    expect(s.seen.counts).toBe(1);
    expect([s.last('1'), s.last('2'), s.last('3')]).toEqual([undefined, 2, 2]);
    await s.batch([['7', '2']]);
    await s.batch([
      ['7', '1'],
      ['7', '3'],
    ]);
    expect(s.seen.counts).toBe(3); // a call per batch, but with nothing to count after the first
    expect(s.seen.countItems).toBe(3);
    expect([s.last('1'), s.last('2'), s.last('3')]).toEqual([2, 4, 4]);
  });

  it("a member's own messages are never counted, and a batch of only their own sends them no event", async () => {
    const s = setup();
    await s.batch([['7', '2']]);
    expect(s.seen.events.filter((e) => e.userId === '2')).toEqual([]);
    expect(s.last('1')).toBe(1);
  });

  it('a reader whose position moved is counted again from the store, from the new position', async () => {
    const s = setup();
    await s.batch([
      ['7', '1'],
      ['7', '1'],
      ['7', '1'],
    ]);
    expect(s.last('2')).toBe(3);
    s.positions.set(
      '7',
      new Map([
        ['2', '2'],
        ['3', '0'],
        ['1', '0'],
      ]),
    );
    await s.batch([['7', '1']]);
    expect(s.last('2')).toBe(2); // seq 3 (stored) and seq 4 (this batch)
    expect(s.last('3')).toBe(4);
    expect(s.seen.countItems).toBe(3 + 1);
  });

  it('after a gap in the partition (a rebalance, a restart) the counts are rebuilt from the store', async () => {
    const s = setup();
    await s.batch([['7', '1']]);
    s.stored.push({ roomId: '7', senderId: '1', seq: 2 }, { roomId: '7', senderId: '1', seq: 3 }); // consumed elsewhere
    await s.batch([['7', '1']], 3);
    expect(s.last('2')).toBe(4);
    expect(s.seen.countItems).toBe(3 + 3); // members 1, 2 and 3, each time
  });

  it('offline members get a notification row per message instead, and their count is forgotten', async () => {
    const s = setup({ online: ['1', '2'] });
    await s.batch([
      ['7', '1'],
      ['7', '2'],
    ]);
    expect(s.seen.notifications).toEqual([
      { userId: '3', seq: '1' },
      { userId: '3', seq: '2' },
    ]);
    expect(s.seen.events.filter((e) => e.userId === '3')).toEqual([]);
    s.online.delete('2');
    await s.batch([['7', '1']]);
    s.online.add('2');
    await s.batch([['7', '1']]);
    expect(s.seen.countItems).toBe(2 + 1); // 2 was counted again once back online
    expect(s.last('2')).toBe(3);
  });

  it('events are coalesced per member and room: the first at once, then at most one per window with the latest count', async () => {
    const s = setup({ unreadEveryMs: 150 });
    await s.batch([['7', '1']]);
    await s.batch([['7', '1']]);
    await s.batch([['7', '1']]);
    expect(s.seen.events.filter((e) => e.userId === '2').map((e) => e.body.unreadCount)).toEqual([1]);
    const deadline = Date.now() + 5000;
    while (s.seen.events.filter((e) => e.userId === '2').length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(s.seen.events.filter((e) => e.userId === '2').map((e) => e.body.unreadCount)).toEqual([1, 3]);
  });

  it("asks for the read positions of all of a batch's rooms at once, not one room after another", async () => {
    const asked: string[] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const s = setup({
      cachedPositions: async (roomId) => {
        asked.push(roomId);
        await gate;
        return null;
      },
    });
    const handled = s.batch([
      ['7', '1'],
      ['8', '1'],
      ['9', '1'],
    ]);
    const deadline = Date.now() + 2000;
    while (asked.length < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    expect(asked).toEqual(['7', '8', '9']);
    release();
    await handled;
    expect([s.last('2', '7'), s.last('2', '8'), s.last('2', '9')]).toEqual([1, 1, 1]);
  });

  it('keeps at most maxRooms rooms in memory: the least recently used is counted from the store again', async () => {
    const s = setup({ maxRooms: 2 });
    await s.batch([['7', '1']]);
    await s.batch([['8', '1']]);
    await s.batch([['7', '1']]);
    expect(s.seen.countItems).toBe(6); // rooms 7 and 8 once each (members 1, 2 and 3)
    await s.batch([['9', '1']]); // evicts 8, the least recently used
    await s.batch([
      ['8', '1'],
      ['7', '1'],
    ]);
    expect(s.seen.countItems).toBe(6 + 3 + 3);
    expect(s.last('2', '8')).toBe(2);
    expect(s.last('2', '7')).toBe(3);
  });
});
