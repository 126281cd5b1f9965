// The counters' contracts (read positions, presence, ack positions, idempotency, leases, rate windows), each
// written once and run against the in-memory adapter and the Redis one. Ids and keys are unique per test.
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { AckPositions } from '../../src/counters/ack-positions.js';
import type { IdempotencyStore } from '../../src/counters/idempotency.js';
import type { Leases } from '../../src/counters/leases.js';
import type { Presence } from '../../src/counters/presence.js';
import { windowStart, type RateWindows } from '../../src/counters/rate-windows.js';
import type { ReadPositions } from '../../src/counters/read-positions.js';
import type { ChatMessage } from '../../src/shared/model.js';
import { waitFor } from '../support/cluster.js';
import { uniqueName, uniqueRoomId } from './support.js';

const id = uniqueRoomId;

export function readPositionsContract(name: string, make: () => { positions: ReadPositions; lose(roomId: string): Promise<void> }): void {
  describe(`ReadPositions contract: ${name}`, () => {
    it('answers null for a room it does not hold, until the room is loaded (even with no positions)', async () => {
      const { positions, lose } = make();
      const room = id();
      expect(await positions.advance(room, '1', '5')).toBeNull();
      expect(await positions.get(room)).toBeNull();
      await positions.load(room, new Map());
      expect(await positions.get(room)).toEqual(new Map());
      expect(await positions.advance(room, '1', '5')).toEqual({ lastReadSeq: '5', moved: true });
      await lose(room);
    });

    it('moves a position forward only, comparing seqs as numbers', async () => {
      const { positions, lose } = make();
      const room = id();
      await positions.load(room, new Map([['1', '5']]));
      expect(await positions.advance(room, '1', '9')).toEqual({ lastReadSeq: '9', moved: true });
      expect(await positions.advance(room, '1', '10')).toEqual({ lastReadSeq: '10', moved: true });
      expect(await positions.advance(room, '1', '6')).toEqual({ lastReadSeq: '10', moved: false });
      expect(await positions.advance(room, '1', '10')).toEqual({ lastReadSeq: '10', moved: false });
      expect(await positions.advance(room, '2', '3')).toEqual({ lastReadSeq: '3', moved: true });
      expect(await positions.get(room)).toEqual(
        new Map([
          ['1', '10'],
          ['2', '3'],
        ]),
      );
      await lose(room);
    });

    it('load merges with what the cache holds, keeping the higher position', async () => {
      const { positions, lose } = make();
      const room = id();
      await positions.load(room, new Map([['1', '4']]));
      await positions.advance(room, '1', '7');
      await positions.load(
        room,
        new Map([
          ['1', '5'],
          ['3', '2'],
        ]),
      );
      expect(await positions.get(room)).toEqual(
        new Map([
          ['1', '7'],
          ['3', '2'],
        ]),
      );
      await positions.load(room, new Map([['1', '12']]));
      expect(await positions.get(room)).toEqual(
        new Map([
          ['1', '12'],
          ['3', '2'],
        ]),
      );
      await lose(room);
    });

    it('after losing a room answers null again, and a reload from the store brings it back', async () => {
      const { positions, lose } = make();
      const room = id();
      await positions.load(room, new Map([['1', '4']]));
      await lose(room);
      expect(await positions.advance(room, '1', '8')).toBeNull();
      expect(await positions.get(room)).toBeNull();
      await positions.load(room, new Map([['1', '4']]));
      expect(await positions.advance(room, '1', '8')).toEqual({ lastReadSeq: '8', moved: true });
      await lose(room);
    });

    it('concurrent advances end at the highest seq, and exactly the increasing ones report a move', async () => {
      const { positions, lose } = make();
      const room = id();
      await positions.load(room, new Map());
      const seqs = Array.from({ length: 60 }, (_, i) => String(((i * 37) % 60) + 1));
      const results = await Promise.all(seqs.map((s) => positions.advance(room, '1', s)));
      expect((await positions.get(room))!.get('1')).toBe('60');
      // Applied one at a time in call order: a call moves exactly when its seq beats every earlier one.
      let best = 0;
      const expected = seqs.map((s) => (Number(s) > best ? ((best = Number(s)), true) : false));
      expect(results.map((r) => r!.moved)).toEqual(expected);
      await lose(room);
    });
  });
}

export function presenceContract(name: string, make: (ttlMs: number) => Presence): void {
  describe(`Presence contract: ${name}`, () => {
    it('is online from the first session opened until the last one closed', async () => {
      const presence = make(30_000);
      const [u, other] = [id(), id()];
      expect(await presence.sessionOpened(u, 's1')).toBe(true);
      expect(await presence.sessionOpened(u, 's2')).toBe(false);
      expect(await presence.onlineUsers([u, other])).toEqual(new Set([u]));
      expect(await presence.sessionClosed(u, 's1')).toBe(false);
      expect(await presence.onlineUsers([u])).toEqual(new Set([u]));
      expect(await presence.sessionClosed(u, 's2')).toBe(true);
      expect(await presence.sessionClosed(u, 's2')).toBe(false);
      expect(await presence.onlineUsers([u, other])).toEqual(new Set());
      expect(await presence.onlineUsers([])).toEqual(new Set());
    });

    it('answers sessions opened at once in call order: each user goes online exactly once', async () => {
      const presence = make(30_000);
      // 700 sessions of 300 users in one turn: more than one batch of the Redis adapter, users spanning batches.
      const users = Array.from({ length: 300 }, () => id());
      const opens = Array.from({ length: 700 }, (_, i) => [users[i % users.length]!, `s${i}`] as const);
      const wentOnline = await Promise.all(opens.map(([u, s]) => presence.sessionOpened(u, s)));
      expect(wentOnline).toEqual(opens.map((_, i) => i < users.length));
      expect(await presence.onlineUsers(users)).toEqual(new Set(users));
      const wentOffline = await Promise.all(opens.map(([u, s]) => presence.sessionClosed(u, s)));
      expect(wentOffline).toEqual(opens.map((_, i) => i >= opens.length - users.length));
      expect(await presence.onlineUsers(users)).toEqual(new Set());
    });

    it('tells who is online among many users at once (more than one batch of the Redis adapter)', async () => {
      const presence = make(30_000);
      const users = Array.from({ length: 600 }, () => id());
      const live = users.filter((_, i) => i % 3 === 0);
      await Promise.all(live.map((u, i) => presence.sessionOpened(u, `s${i}`)));
      expect(await presence.onlineUsers(users)).toEqual(new Set(live));
      await Promise.all(live.map((u, i) => presence.sessionClosed(u, `s${i}`)));
      expect(await presence.onlineUsers(users)).toEqual(new Set());
    });

    it('refreshes any number of sessions at once, registering again those it lost', async () => {
      const ttl = 600;
      const presence = make(ttl);
      const users = Array.from({ length: 600 }, () => id());
      // The last user's session was never opened here (as if Redis had lost it): a refresh registers it.
      const sessions = users.map((u, i) => [u, `r${i}`] as const);
      await Promise.all(sessions.slice(0, -1).map(([u, s]) => presence.sessionOpened(u, s)));
      const refresher = setInterval(() => void presence.refresh(sessions), ttl / 4);
      try {
        await presence.refresh(sessions);
        await new Promise((resolve) => setTimeout(resolve, ttl * 2));
        expect((await presence.onlineUsers(users)).size).toBe(users.length);
      } finally {
        clearInterval(refresher);
      }
      await waitFor(async () => (await presence.onlineUsers(users)).size === 0, ttl * 5, 'every session to expire');
    });

    it('lets a session expire ttl after it was opened unless refreshed', async () => {
      const ttl = 600;
      const presence = make(ttl);
      const [quiet, busy] = [id(), id()];
      const t0 = Date.now();
      await presence.sessionOpened(quiet, 'q');
      await presence.sessionOpened(busy, 'b');
      expect(await presence.onlineUsers([quiet, busy])).toEqual(new Set([quiet, busy]));
      const refresher = setInterval(() => void presence.refresh([[busy, 'b']]), ttl / 4);
      try {
        await waitFor(async () => !(await presence.onlineUsers([quiet])).has(quiet), ttl * 5, 'the quiet session to expire');
        const gone = Date.now() - t0;
        expect(gone).toBeGreaterThanOrEqual(ttl - 50);
        expect(await presence.onlineUsers([busy])).toEqual(new Set([busy]));
        // The expired session no longer counts: closing it changes nothing, a new one brings the user back.
        expect(await presence.sessionClosed(quiet, 'q')).toBe(false);
        expect(await presence.sessionOpened(quiet, 'q2')).toBe(true);
      } finally {
        clearInterval(refresher);
      }
      await presence.sessionClosed(busy, 'b');
      await presence.sessionClosed(quiet, 'q2');
    });
  });
}

export function ackPositionsContract(name: string, make: () => AckPositions): void {
  describe(`AckPositions contract: ${name}`, () => {
    it('keeps a position per (user, room) that only moves forward', async () => {
      const acks = make();
      const [u, room, room2] = [id(), id(), id()];
      expect(await acks.get(u, room)).toBeNull();
      await acks.advance(u, room, '9');
      await acks.advance(u, room, '3');
      expect(await acks.get(u, room)).toBe('9');
      await acks.advance(u, room, '10');
      expect(await acks.get(u, room)).toBe('10');
      expect(await acks.get(u, room2)).toBeNull();
      await Promise.all(['15', '40', '12', '39', '2'].map((s) => acks.advance(u, room2, s)));
      expect(await acks.get(u, room2)).toBe('40');
    });
  });
}

export interface IdempotencyUnderTest {
  store: IdempotencyStore;
  /** Makes a pending claim's lifetime run out (a crashed sender). */
  expirePending(senderId: string, key: string): Promise<void>;
  /** Lets `ms` of a pending claim's 30 s lifetime pass. */
  age(senderId: string, key: string, ms: number): Promise<void>;
}

const chatMessage = (senderId: string, key: string): ChatMessage => ({
  id: randomUUID(),
  roomId: '5',
  senderId,
  type: 'TEXT',
  content: 'héllo',
  idempotencyKey: key,
  createdAt: new Date().toISOString(),
  seq: '12',
  partition: 3,
  offset: '11',
});

export function idempotencyContract(name: string, make: () => IdempotencyUnderTest): void {
  describe(`IdempotencyStore contract: ${name}`, () => {
    it('claim: the first caller owns the key; later ones see it pending, then done with the message', async () => {
      const { store } = make();
      const [sender, key] = [id(), uniqueName('k')];
      const first = randomUUID();
      expect(await store.claim(sender, key, first)).toBeNull();
      expect(await store.claim(sender, key, randomUUID())).toEqual({ state: 'pending', messageId: first });
      const message = chatMessage(sender, key);
      await store.complete(sender, key, message);
      expect(await store.claim(sender, key, randomUUID())).toEqual({ state: 'done', message });
      // Another sender's key of the same name is another key.
      expect(await store.claim(id(), key, randomUUID())).toBeNull();
    });

    it('the same claim made again (a command resent after a reconnect) still owns the key; another does not', async () => {
      const { store } = make();
      const [sender, key] = [id(), uniqueName('k')];
      const mine = randomUUID();
      expect(await store.claim(sender, key, mine)).toBeNull();
      expect(await store.claim(sender, key, mine)).toBeNull();
      expect(await store.claim(sender, key, randomUUID())).toEqual({ state: 'pending', messageId: mine });
      await store.complete(sender, key, chatMessage(sender, key));
      expect((await store.claim(sender, key, mine))?.state).toBe('done');
    });

    it('release frees a claim (a failed send may be retried)', async () => {
      const { store } = make();
      const [sender, key] = [id(), uniqueName('k')];
      expect(await store.claim(sender, key, randomUUID())).toBeNull();
      await store.release(sender, key);
      const second = randomUUID();
      expect(await store.claim(sender, key, second)).toBeNull();
      expect(await store.claim(sender, key, randomUUID())).toEqual({ state: 'pending', messageId: second });
    });

    it('a pending claim that is never completed expires, and the key can be claimed again', async () => {
      const { store, expirePending } = make();
      const [sender, key] = [id(), uniqueName('k')];
      expect(await store.claim(sender, key, randomUUID())).toBeNull();
      await expirePending(sender, key);
      const second = randomUUID();
      expect(await store.claim(sender, key, second)).toBeNull();
      expect(await store.claim(sender, key, randomUUID())).toEqual({ state: 'pending', messageId: second });
    });

    it('renew gives its own pending claim a full lifetime again, and touches nothing else', async () => {
      const { store, age } = make();
      const [sender, key] = [id(), uniqueName('k')];
      const mine = randomUUID();
      expect(await store.claim(sender, key, mine)).toBeNull();
      await age(sender, key, 29_000);
      await store.renew(sender, key, mine);
      await age(sender, key, 2_000); // 31 s after the claim: alive only because of the renewal
      expect(await store.claim(sender, key, randomUUID())).toEqual({ state: 'pending', messageId: mine });
      // Another message's renewal does not extend it; a done key stays done; a missing key is not created.
      await store.renew(sender, key, randomUUID());
      const message = chatMessage(sender, key);
      await store.complete(sender, key, message);
      await store.renew(sender, key, mine);
      expect(await store.claim(sender, key, randomUUID())).toEqual({ state: 'done', message });
      const other = uniqueName('k');
      await store.renew(sender, other, mine);
      expect(await store.claim(sender, other, randomUUID())).toBeNull();
    });

    it('exactly one of many concurrent claims wins', async () => {
      const { store } = make();
      const [sender, key] = [id(), uniqueName('k')];
      const ids = Array.from({ length: 30 }, () => randomUUID());
      const results = await Promise.all(ids.map((m) => store.claim(sender, key, m)));
      const winners = results.filter((r) => r === null);
      expect(winners).toHaveLength(1);
      const winner = ids[results.indexOf(null)]!;
      for (const r of results) if (r) expect(r).toEqual({ state: 'pending', messageId: winner });
    });
  });
}

export function leasesContract(name: string, make: () => Leases): void {
  describe(`Leases contract: ${name}`, () => {
    it('grants a lease to one holder at a time (not twice to the same one) until it expires', async () => {
      const leases = make();
      const lease = uniqueName('lease');
      const ttl = 400;
      const t0 = Date.now();
      expect(await leases.acquire(lease, 'a', ttl)).toBe(true);
      expect(await leases.acquire(lease, 'b', ttl)).toBe(false);
      expect(await leases.acquire(lease, 'a', ttl)).toBe(false);
      await waitFor(() => leases.acquire(lease, 'b', ttl), ttl * 5, 'the lease to expire');
      expect(Date.now() - t0).toBeGreaterThanOrEqual(ttl - 50);
      expect(await leases.acquire(lease, 'a', ttl)).toBe(false);
    });

    it('exactly one of many concurrent acquirers wins', async () => {
      const leases = make();
      const lease = uniqueName('lease');
      const results = await Promise.all(Array.from({ length: 20 }, (_, i) => leases.acquire(lease, `h${i}`, 10_000)));
      expect(results.filter(Boolean)).toHaveLength(1);
    });
  });
}

export function rateWindowsContract(name: string, make: () => RateWindows): void {
  describe(`RateWindows contract: ${name}`, () => {
    /** Waits, if needed, so that the next `ms` stay inside one window. */
    async function roomInWindow(windowMs: number, ms: number): Promise<void> {
      await waitFor(() => windowStart(Date.now(), windowMs) + windowMs - Date.now() > ms, windowMs + 1000, 'a fresh window');
    }

    it('counts per key within a window, atomically', async () => {
      const rates = make();
      const [key, other] = [uniqueName('rate'), uniqueName('rate')];
      await roomInWindow(60_000, 5000);
      expect(await rates.add(key, 1, 60_000)).toBe(1);
      expect(await rates.add(key, 2, 60_000)).toBe(3);
      expect(await rates.add(other, 5, 60_000)).toBe(5);
      const totals = await Promise.all(Array.from({ length: 40 }, () => rates.add(key, 1, 60_000)));
      expect([...totals].sort((x, y) => x - y)).toEqual(Array.from({ length: 40 }, (_, i) => i + 4));
    });

    it('starts each window from zero', async () => {
      const rates = make();
      const key = uniqueName('rate');
      const windowMs = 300;
      await roomInWindow(windowMs, 150);
      const first = windowStart(Date.now(), windowMs);
      expect(await rates.add(key, 3, windowMs)).toBe(3);
      await waitFor(() => windowStart(Date.now(), windowMs) > first, windowMs * 3, 'the next window');
      expect(await rates.add(key, 1, windowMs)).toBe(1);
    });

    it('token bucket: starts full, charges (even into debt), refills at the rate, never above the burst', async () => {
      const rates = make();
      const key = uniqueName('bucket');
      // A negligible refill rate first, so the figures are exact to a hundredth.
      expect(await rates.chargeBucket(key, 1, 0.001, 5)).toBeCloseTo(4, 2);
      expect(await rates.chargeBucket(key, 3, 0.001, 5)).toBeCloseTo(1, 2);
      expect(await rates.chargeBucket(key, 3, 0.001, 5)).toBeCloseTo(-2, 2);
      const fast = uniqueName('bucket');
      expect(await rates.chargeBucket(fast, 5, 50, 5)).toBeCloseTo(0, 0);
      await waitFor(async () => (await rates.chargeBucket(fast, 0, 50, 5)) >= 4, 3000, 'the bucket to refill');
      await waitFor(async () => (await rates.chargeBucket(fast, 0, 50, 5)) === 5, 3000, 'the bucket to fill up');
      expect(await rates.chargeBucket(fast, 0, 50, 5)).toBe(5);
      const atomic = uniqueName('bucket');
      const left = await Promise.all(Array.from({ length: 20 }, () => rates.chargeBucket(atomic, 1, 0.001, 100)));
      expect([...left].sort((x, y) => y - x).map((x) => Math.round(x))).toEqual(Array.from({ length: 20 }, (_, i) => 99 - i));
    });

    it('token bucket: a negative charge gives tokens back (a refused request refunds what it took); 0 only looks', async () => {
      const rates = make();
      const key = uniqueName('bucket');
      expect(await rates.chargeBucket(key, 2, 0.001, 2)).toBeCloseTo(0, 2);
      expect(await rates.chargeBucket(key, 1, 0.001, 2)).toBeCloseTo(-1, 2);
      expect(await rates.chargeBucket(key, -1, 0.001, 2)).toBeCloseTo(0, 2);
      expect(await rates.chargeBucket(key, 0, 0.001, 2)).toBeCloseTo(0, 2);
    });
  });
}
