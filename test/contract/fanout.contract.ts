// The FanoutBus contract, run against the in-process bus and Redis Pub/Sub. A publisher and a subscriber are two
// instances of the bus (two processes in cluster mode; the same object in one process). Rooms, users and topics are
// unique per test, so servers sharing the Redis do not disturb it.
import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import type { BusEvent, FanoutBus, MembershipChange, PresenceChange, RoomBatch } from '../../src/fanout/fanout.js';
import { topics } from '../../src/fanout/fanout.js';
import type { MessageView } from '../../src/shared/model.js';
import { waitFor } from '../support/cluster.js';
import { uniqueRoomId } from './support.js';

export interface BusPair {
  /** Publishes. */
  pub: FanoutBus;
  /** Subscribes (another instance where the adapter has instances). */
  sub: FanoutBus;
  close(): Promise<void>;
}

export interface BusFactory {
  open(): Promise<BusPair>;
}

const view = (roomId: string, seq: number): MessageView => ({
  id: randomUUID(),
  roomId,
  seq: String(seq),
  senderId: '1',
  type: 'TEXT',
  content: `message ${seq} ✓`,
  createdAt: new Date().toISOString(),
  unreadCount: seq % 3,
});

const seqs = (b: RoomBatch) => b.messages.map((m) => Number(m.seq));

export function fanoutContract(name: string, factory: BusFactory): void {
  describe(`FanoutBus contract: ${name}`, () => {
    const opened: BusPair[] = [];
    const open = async () => {
      const p = await factory.open();
      opened.push(p);
      return p;
    };
    afterAll(async () => {
      for (const p of opened) await p.close();
    });
    /** A bus pair and a fresh room whose batches the subscribing side collects in `got`. */
    const watchedRoom = async () => {
      const { pub, sub } = await open();
      const room = uniqueRoomId();
      const got: RoomBatch[] = [];
      await sub.subscribeRoom(room, (b) => got.push(b));
      return { pub, sub, room, got };
    };

    it('delivers a room batch chained to the previous publish (prevSeq) and remembers the last seq', async () => {
      const { pub, room, got } = await watchedRoom();
      expect(await pub.lastBroadcastSeq(room)).toBeNull();
      const first = [view(room, 1), view(room, 2)];
      const second = [view(room, 3)];
      await pub.publishRoom(room, first);
      await pub.publishRoom(room, second);
      await waitFor(() => got.length >= 2, 5000, 'two batches');
      expect(got).toEqual([
        { roomId: room, prevSeq: '0', messages: first },
        { roomId: room, prevSeq: '2', messages: second },
      ]);
      expect(await pub.lastBroadcastSeq(room)).toBe('3');
    });

    it('does not publish again what was already published (a redelivered batch), and keeps the chain', async () => {
      const { pub, room, got } = await watchedRoom();
      const v = [0, 1, 2, 3, 4, 5, 6].map((s) => view(room, s));
      await pub.publishRoom(room, [v[1]!, v[2]!, v[3]!]);
      await pub.publishRoom(room, [v[2]!, v[3]!, v[4]!, v[5]!]);
      await pub.publishRoom(room, [v[1]!, v[2]!]);
      await pub.publishRoom(room, []);
      await pub.publishRoom(room, [v[6]!]);
      await waitFor(() => got.some((b) => seqs(b).includes(6)), 5000, 'the last batch');
      expect(got.map((b) => [b.prevSeq, seqs(b)])).toEqual([
        ['0', [1, 2, 3]],
        ['3', [4, 5]],
        ['5', [6]],
      ]);
      expect(await pub.lastBroadcastSeq(room)).toBe('6');
    });

    it('publishes many rooms in one call, each room on its own chain, dropping per room what it already published', async () => {
      const { pub, sub } = await open();
      // More rooms than one call of the Redis adapter carries (256).
      const rooms = Array.from({ length: 300 }, () => uniqueRoomId());
      const got = new Map<string, RoomBatch[]>(rooms.map((r) => [r, []]));
      for (const r of rooms) await sub.subscribeRoom(r, (b) => got.get(r)!.push(b));
      await pub.publishRooms(rooms.map((r, i) => ({ roomId: r, messages: [view(r, 1), view(r, 2 + (i % 2))] })));
      // Again, overlapping: each room publishes only its seqs above its own last one; empty rooms are skipped.
      await pub.publishRooms([
        ...rooms.map((r, i) => ({ roomId: r, messages: i % 5 === 0 ? [] : [view(r, 2), view(r, 3), view(r, 4)] })),
        { roomId: rooms[0]!, messages: [] },
      ]);
      await waitFor(() => rooms.every((r, i) => got.get(r)!.length === (i % 5 === 0 ? 1 : 2)), 10_000, 'every room its batches');
      rooms.forEach((r, i) => {
        const first = i % 2 === 0 ? [1, 2] : [1, 3];
        const again = i % 2 === 0 ? [3, 4] : [4];
        expect(got.get(r)!.map((b) => [b.prevSeq, seqs(b)])).toEqual([['0', first], ...(i % 5 === 0 ? [] : [[String(first[1]), again]])]);
      });
      expect(await Promise.all(rooms.slice(0, 3).map((r) => pub.lastBroadcastSeq(r)))).toEqual(['2', '4', '4']);
      await pub.publishRooms([]);
    });

    it("delivers a room's batches in publish order, each chained to the one before, when published concurrently", async () => {
      const { pub, room, got } = await watchedRoom();
      await Promise.all(Array.from({ length: 50 }, (_, i) => pub.publishRoom(room, [view(room, i + 1)])));
      await waitFor(
        () => got.length >= 50,
        5000,
        () => `50 batches, have ${got.length}`,
      );
      expect(got.flatMap(seqs)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
      expect(got.map((b) => b.prevSeq)).toEqual(['0', ...got.slice(0, -1).map((b) => b.messages.at(-1)!.seq)]);
    });

    it('delivers events to the subscribers of their topic only, and no more after unsubscribing', async () => {
      const { pub, sub } = await open();
      const room = uniqueRoomId();
      const user = uniqueRoomId();
      const roomEvents: BusEvent[] = [];
      const userEvents: BusEvent[] = [];
      await sub.subscribeTopic(topics.roomEvents(room), (e) => roomEvents.push(e));
      await sub.subscribeTopic(topics.user(user), (e) => userEvents.push(e));
      const typing = { eventType: 'typing', body: { userId: '7' } };
      const unread = { eventType: 'unread', body: { roomId: room, unreadCount: 3 } };
      await pub.publishEvent(topics.roomEvents(room), typing);
      await pub.publishEvent(topics.user(user), unread);
      await waitFor(() => roomEvents.length >= 1 && userEvents.length >= 1, 5000, 'both events');
      await sub.unsubscribeTopic(topics.roomEvents(room));
      await pub.publishEvent(topics.roomEvents(room), { eventType: 'typing', body: { userId: '8' } });
      // Barrier: one publisher's messages arrive in order, so once this one is in, the one before would be too.
      await pub.publishEvent(topics.user(user), { eventType: 'marker', body: null });
      await waitFor(() => userEvents.length >= 2, 5000, 'the marker');
      expect(roomEvents).toEqual([typing]);
      expect(userEvents).toEqual([unread, { eventType: 'marker', body: null }]);
    });

    it('publishes many events in one call, each to its topic, in the order given', async () => {
      const { pub, sub } = await open();
      // 300 events (more than one script call holds on Redis) over 3 users, interleaved.
      const users = [uniqueRoomId(), uniqueRoomId(), uniqueRoomId()];
      const got = new Map<string, number[]>(users.map((u) => [u, []]));
      for (const u of users) await sub.subscribeTopic(topics.user(u), (e) => got.get(u)!.push((e.body as { n: number }).n));
      const events = Array.from({ length: 300 }, (_, n) => ({ topic: topics.user(users[n % 3]!), event: { eventType: 'unread', body: { n } } }));
      await pub.publishEvents(events);
      await pub.publishEvents([]);
      await waitFor(() => [...got.values()].every((list) => list.length >= 100), 5000, 'every event');
      users.forEach((u, i) => expect(got.get(u)).toEqual(Array.from({ length: 100 }, (_, k) => 3 * k + i)));
    });

    it('stops delivering a room after unsubscribeRoom', async () => {
      const { pub, sub, room, got } = await watchedRoom();
      const barrier = topics.user(uniqueRoomId());
      const marks: BusEvent[] = [];
      await sub.subscribeTopic(barrier, (e) => marks.push(e));
      await pub.publishRoom(room, [view(room, 1)]);
      await waitFor(() => got.length >= 1, 5000, 'the first batch');
      await sub.unsubscribeRoom(room);
      await pub.publishRoom(room, [view(room, 2)]);
      await pub.publishEvent(barrier, { eventType: 'marker', body: null });
      await waitFor(() => marks.length >= 1, 5000, 'the marker');
      expect(got.map(seqs)).toEqual([[1]]);
      // Publishing still advances the chain for whoever subscribes later.
      expect(await pub.lastBroadcastSeq(room)).toBe('2');
    });

    it('delivers membership and presence changes to the control listener', async () => {
      const { pub, sub } = await open();
      const room = uniqueRoomId();
      const user = uniqueRoomId();
      const memberships: MembershipChange[] = [];
      const presences: PresenceChange[] = [];
      // Other servers on a shared Redis publish control messages too: keep ours only.
      await sub.listenControl({
        membership: (c) => void (c.userId === user && memberships.push(c)),
        presence: (c) => void (c.userId === user && presences.push(c)),
      });
      const left: MembershipChange = { roomId: room, userId: user, change: 'left' };
      const joined: MembershipChange = { roomId: room, userId: user, change: 'joined' };
      const online: PresenceChange = { userId: user, status: 'ONLINE', lastSeenAt: new Date().toISOString(), roomIds: [room, '12'] };
      await pub.publishMembership(joined);
      await pub.publishPresence(online);
      await pub.publishMembership(left);
      await waitFor(() => memberships.length >= 2 && presences.length >= 1, 5000, 'the control messages');
      expect(memberships).toEqual([joined, left]);
      expect(presences).toEqual([online]);
    });
  });
}
