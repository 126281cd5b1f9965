// The webhook outbox part of the Store contract (src/notifications/outbox.ts), run against PostgreSQL and PGlite by
// store.test.ts: outbox rows written with the notification rows and only with them, deliveries formed per member,
// room and window with the message cap, idempotent across redeliveries until pruned, exclusive claims under leases
// (also when claimed concurrently), settling, give-up, and the operators' list / retry / discard. Each test works in a scope of its own, so the rows of other
// runs and servers on the shared database never show.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClaimedDelivery } from '../../src/notifications/outbox.js';
import type { ChatMessage, User } from '../../src/shared/model.js';
import type { Store } from '../../src/store/store.js';
import { waitFor } from '../support/cluster.js';
import type { StoreFactory } from './store.contract.js';
import { uniqueName } from './support.js';

const LONG = 60_000;

export function webhookOutboxContract(name: string, factory: StoreFactory): void {
  describe(`Store contract, webhook outbox: ${name}`, () => {
    let store: Store;
    beforeAll(async () => {
      store = await factory.open();
    });
    afterAll(async () => {
      if (store) await factory.close(store);
    });

    const tag = uniqueName('wh').replace(/-/g, '');
    let n = 0;
    let seq = 0;
    const user = (): Promise<User> => store.createUser({ email: `${tag}u${++n}@contract.example`, passwordHash: 'h', nickname: `${tag}u${n}` });
    const scope = () => `${tag}-${++n}-`;

    /** A room of a sender and `count` members, and `k` stored messages of the sender. */
    async function fixture(count: number, k: number) {
      const sender = await user();
      const members = await Promise.all(Array.from({ length: count }, () => user()));
      const room = await store.createGroupRoom(
        sender.id,
        `${tag} room`,
        members.map((m) => m.id),
        'private',
      );
      const messages: ChatMessage[] = Array.from({ length: k }, (_, i) => ({
        id: randomUUID(),
        roomId: room.id,
        senderId: sender.id,
        type: 'TEXT',
        content: `webhook ${i} ✓`,
        idempotencyKey: null,
        createdAt: new Date(Date.UTC(2026, 0, 1, 0, 0, i)).toISOString(),
        seq: String(++seq),
        partition: 0,
        offset: String(seq - 1),
      }));
      await store.insertMessages(messages);
      return { sender, members, room, messages };
    }
    const rows = (messages: ChatMessage[], users: User[]) =>
      users.flatMap((u) => messages.map((m) => ({ userId: u.id, roomId: m.roomId, messageId: m.id, seq: m.seq, senderId: m.senderId, preview: m.content })));
    const byUser = (list: ClaimedDelivery[]) => new Map(list.map((d) => [d.userId, d]));
    const complete = async (d: ClaimedDelivery, outcome: 'delivered' | 'dropped' = 'delivered') =>
      (await store.completeWebhookDeliveries([{ id: d.id, leaseToken: d.leaseToken, outcome }])).length === 1;

    it('queues outbox rows with the notification rows when given a scope, once per (scope, user, message) until pruned', async () => {
      const { members, messages, room, sender } = await fixture(3, 3);
      const [b, c, e] = members as [User, User, User];
      const s = scope();
      expect(await store.insertNotifications(rows(messages, [e]), null)).toBe(3); // no webhook: nothing queued
      // b's rows were written by another deployment sharing the database: queued here all the same
      expect(await store.insertNotifications(rows(messages, [b]), null)).toBe(3);
      expect(await store.insertNotifications([...rows(messages, [b]), ...rows(messages.slice(0, 1), [c])], s)).toBe(1);
      expect(await store.insertNotifications(rows(messages.slice(0, 1), [c]), s)).toBe(0); // a redelivered record
      expect(await store.formWebhookDeliveries(s, 0, 50, 100)).toBe(2);
      const claimed = byUser(await store.claimWebhookDeliveries(s, 10, LONG));
      const d = claimed.get(c.id)!;
      expect(d).toEqual({
        id: expect.any(String),
        leaseToken: expect.any(String),
        userId: c.id,
        roomId: room.id,
        attempts: 1,
        member: true,
        messages: [expect.any(Object)],
        unstored: 0,
      });
      expect(claimed.get(b.id)!.messages.map((m) => m.id)).toEqual(messages.map((m) => m.id));
      const m = messages[0]!;
      // The message JSON of API.md; unread: all three members are at read position 0.
      expect(d.messages[0]).toEqual({
        id: m.id,
        roomId: room.id,
        seq: m.seq,
        senderId: sender.id,
        type: 'TEXT',
        content: m.content,
        createdAt: m.createdAt,
        unreadCount: 3,
      });
      expect(await store.claimWebhookDeliveries(s, 10, LONG)).toEqual([]); // leased
      expect(await store.claimWebhookDeliveries(scope(), 10, LONG)).toEqual([]); // another deployment sees nothing

      // Delivered: a record redelivered afterwards still queues nothing, until the settled delivery is pruned.
      const settled = [...claimed.values()].map((x) => ({ id: x.id, leaseToken: x.leaseToken, outcome: 'delivered' as const }));
      expect((await store.completeWebhookDeliveries(settled)).sort()).toEqual(settled.map((x) => x.id).sort()); // one statement
      expect(await complete(d)).toBe(false); // settled already
      expect(await store.completeWebhookDeliveries([])).toEqual([]);
      await store.insertNotifications(rows(messages.slice(0, 1), [c]), s);
      expect(await store.formWebhookDeliveries(s, 0, 50, 100)).toBe(0);
      expect(await store.pruneWebhookDeliveries(s, LONG, 100)).toBe(0); // settled just now: kept
      expect(await store.pruneWebhookDeliveries(s, 0, 1)).toBe(1); // a batch at a time
      expect(await store.pruneWebhookDeliveries(s, 0, 100)).toBe(1);
      await store.insertNotifications(rows(messages.slice(0, 1), [c]), s);
      expect(await store.formWebhookDeliveries(s, 0, 50, 100)).toBe(1);
    });

    it('forms one delivery per member and room once the oldest row is a window old, at most the cap each, in seq order', async () => {
      const { members, messages } = await fixture(2, 5);
      const [b, c] = members as [User, User];
      const s = scope();
      await store.insertNotifications([...rows(messages, [b]), ...rows(messages.slice(0, 1), [c])], s);
      expect(await store.formWebhookDeliveries(s, LONG, 2, 100)).toBe(0); // the window is still open
      expect(await store.formWebhookDeliveries(s, 0, 2, 100)).toBe(4); // b: 2 + 2 + 1, c: 1
      expect(await store.formWebhookDeliveries(s, 0, 2, 100)).toBe(0);
      const claimed = await store.claimWebhookDeliveries(s, 10, LONG);
      expect(claimed).toHaveLength(4);
      const ofB = claimed.filter((d) => d.userId === b.id).map((d) => d.messages.map((m) => m.seq));
      expect(ofB.map((l) => l.length).sort()).toEqual([1, 2, 2]);
      expect(ofB.flat().sort((x, y) => Number(x) - Number(y))).toEqual(messages.map((m) => m.seq));
      for (const l of ofB) expect(l).toEqual([...l].sort((x, y) => Number(x) - Number(y)));
      expect(new Set(claimed.map((d) => d.id)).size).toBe(4);
    });

    it('claims exclusively, also when claims and formations race; a lapsed lease makes the delivery due again', async () => {
      const { members, messages } = await fixture(6, 2);
      const s = scope();
      await store.insertNotifications(rows(messages, members), s);
      const formed = await Promise.all([1, 2, 3].map(() => store.formWebhookDeliveries(s, 0, 50, 100)));
      const claims = (await Promise.all([1, 2, 3].map(() => store.claimWebhookDeliveries(s, 4, LONG)))).flat();
      expect(claims.length).toBe(formed.reduce((a, b) => a + b, 0));
      // every (member, message) in exactly one delivery
      const pairs = claims.flatMap((d) => d.messages.map((m) => `${d.userId}/${m.id}`));
      expect(pairs.sort()).toEqual(members.flatMap((u) => messages.map((m) => `${u.id}/${m.id}`)).sort());

      // A 1 ms lease lapses: due again, attempt 2; the old holder can no longer settle it.
      const one = await fixture(1, 1);
      const s2 = scope();
      await store.insertNotifications(rows(one.messages, one.members), s2);
      await store.formWebhookDeliveries(s2, 0, 50, 100);
      const [first] = await store.claimWebhookDeliveries(s2, 10, 1);
      const again = await waitFor(async () => (await store.claimWebhookDeliveries(s2, 10, LONG))[0], 10_000, 'a lapsed lease due again');
      expect(again).toMatchObject({ id: first!.id, attempts: 2 });
      expect(again.leaseToken).not.toBe(first!.leaseToken);
      expect(await complete(first!)).toBe(false);
      expect(await store.failWebhookDelivery(first!.id, first!.leaseToken, { retryInMs: 0, giveUpMs: LONG, status: 500, error: 'late' })).toBeNull();
      expect(await complete(again)).toBe(true);
      expect(await store.claimWebhookDeliveries(s2, 10, 1)).toEqual([]); // delivered: never due again
    });

    it('settles attempts: retry after the delay, fail at once, give up after the give-up time', async () => {
      const { members, messages } = await fixture(3, 1);
      const [b, c, e] = members as [User, User, User];
      const s = scope();
      await store.insertNotifications(rows(messages, members), s);
      await store.formWebhookDeliveries(s, 0, 50, 100);
      const first = byUser(await store.claimWebhookDeliveries(s, 10, LONG));
      expect(
        await store.failWebhookDelivery(first.get(b.id)!.id, first.get(b.id)!.leaseToken, { retryInMs: 0, giveUpMs: LONG, status: 503, error: 'HTTP 503' }),
      ).toBe('pending');
      expect(
        await store.failWebhookDelivery(first.get(c.id)!.id, first.get(c.id)!.leaseToken, {
          retryInMs: 30_000,
          giveUpMs: LONG,
          status: null,
          error: 'timeout',
        }),
      ).toBe('pending');
      expect(
        await store.failWebhookDelivery(first.get(e.id)!.id, first.get(e.id)!.leaseToken, {
          retryInMs: 1000,
          giveUpMs: 1000,
          status: null,
          error: 'ECONNREFUSED',
        }),
      ).toBe('failed');
      // b due at once (attempt 2), c in a minute, e failed (not claimable)
      const second = await store.claimWebhookDeliveries(s, 10, LONG);
      expect(second.map((d) => [d.userId, d.attempts])).toEqual([[b.id, 2]]);
      expect(await store.failWebhookDelivery(second[0]!.id, second[0]!.leaseToken, { retryInMs: null, giveUpMs: LONG, status: 401, error: 'HTTP 401' })).toBe(
        'failed',
      );
      const failed = await store.listFailedWebhookDeliveries(s, { limit: 10 });
      expect(failed.nextCursor).toBeNull();
      expect(failed.deliveries.map((d) => [d.userId, d.attempts, d.lastStatus, d.lastError]).sort()).toEqual(
        [
          [b.id, 2, 401, 'HTTP 401'],
          [e.id, 1, null, 'ECONNREFUSED'],
        ].sort(),
      );
      expect(failed.deliveries[0]).toMatchObject({ roomId: messages[0]!.roomId, count: 1, createdAt: expect.any(String), failedAt: expect.any(String) });
      expect(await store.countFailedWebhookDeliveries(s)).toBe(2);
      expect(await store.claimWebhookDeliveries(s, 10, LONG)).toEqual([]);
    });

    it('lists failed deliveries page by page, retries a selection (same id, attempts from 1) and discards', async () => {
      const { members, messages } = await fixture(5, 1);
      const s = scope();
      await store.insertNotifications(rows(messages, members), s);
      await store.formWebhookDeliveries(s, 0, 50, 100);
      for (const d of await store.claimWebhookDeliveries(s, 10, LONG)) {
        await store.failWebhookDelivery(d.id, d.leaseToken, { retryInMs: null, giveUpMs: LONG, status: 410, error: 'HTTP 410' });
      }
      const seen: string[] = [];
      let before: string | null = null;
      for (let page = 0; page < 5; page++) {
        const r = await store.listFailedWebhookDeliveries(s, { limit: 2, before });
        seen.push(...r.deliveries.map((d) => d.id));
        before = r.nextCursor;
        if (!before) break;
      }
      expect(seen).toHaveLength(5);
      expect(new Set(seen).size).toBe(5);
      const [r1, r2, d1, ...rest] = seen as [string, string, string, ...string[]];
      const unknown = randomUUID();
      expect((await store.retryWebhookDeliveries(s, [r1, r2, unknown])).sort()).toEqual([r1, r2].sort());
      expect(await store.retryWebhookDeliveries(s, [r1])).toEqual([]); // pending now, not failed
      expect(await store.retryWebhookDeliveries(scope(), [d1])).toEqual([]); // another deployment's
      expect(await store.discardWebhookDeliveries(s, [d1, unknown])).toEqual([d1]);
      expect(await store.retryWebhookDeliveries(s, [d1])).toEqual([]); // discarded: never sent
      expect((await store.listFailedWebhookDeliveries(s, { limit: 10 })).deliveries.map((d) => d.id).sort()).toEqual([...rest].sort());
      const retried = await store.claimWebhookDeliveries(s, 10, LONG);
      expect(retried.map((d) => d.id).sort()).toEqual([r1, r2].sort());
      expect(retried.map((d) => d.attempts)).toEqual([1, 1]);
      for (const d of retried) expect(await complete(d)).toBe(true);
      expect(await store.countFailedWebhookDeliveries(s)).toBe(rest.length);
    });

    it('reports outbox rows whose message is not stored yet, and members who left the room since', async () => {
      const { members, room, sender, messages } = await fixture(2, 1);
      const [b, c] = members as [User, User];
      const s = scope();
      await store.insertNotifications([{ userId: b.id, roomId: room.id, messageId: randomUUID(), seq: String(++seq), senderId: sender.id, preview: 'x' }], s);
      await store.insertNotifications(rows(messages, [c]), s);
      await store.removeMember(room.id, c.id);
      await store.formWebhookDeliveries(s, 0, 50, 100);
      const claimed = byUser(await store.claimWebhookDeliveries(s, 10, LONG));
      expect(claimed.get(b.id)).toMatchObject({ member: true, messages: [], unstored: 1 });
      expect(claimed.get(c.id)).toMatchObject({ member: false, messages: [{ id: messages[0]!.id }], unstored: 0 });
      expect(await complete(claimed.get(c.id)!, 'dropped')).toBe(true);
    });
  });
}
