// The Store contract, run against PostgreSQL and PGlite through the same KyselyStore. The PostgreSQL database is
// shared with other tests and servers: every user, room and message here is created by the test, with unique names.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChatMessage, User } from '../../src/shared/model.js';
import type { Store } from '../../src/store/store.js';
import { uniqueName } from './support.js';

export interface StoreFactory {
  open(): Promise<Store>;
  close(store: Store): Promise<void>;
}

const NO_SUCH_ID = '9223372036854775806';

export function storeContract(name: string, factory: StoreFactory): void {
  describe(`Store contract: ${name}`, () => {
    let store: Store;
    beforeAll(async () => {
      store = await factory.open();
    });
    afterAll(async () => {
      if (store) await factory.close(store);
    });

    const tag = uniqueName('ct').replace(/-/g, '');
    let n = 0;
    const user = (nickname = `${tag}u${++n}`): Promise<User> =>
      store.createUser({ email: `${nickname}.${n}@Contract.Example`, passwordHash: `hash-${n}`, nickname });
    let seqBase = 0;
    const message = (roomId: string, senderId: string, seq: number, over: Partial<ChatMessage> = {}): ChatMessage => ({
      id: randomUUID(),
      roomId,
      senderId,
      type: 'TEXT',
      content: `message ${seq} ✓`,
      idempotencyKey: null,
      createdAt: new Date(Date.UTC(2026, 0, 1, 0, 0, 0, ++seqBase)).toISOString(),
      seq: String(seq),
      partition: 2,
      offset: String(seq - 1),
      ...over,
    });

    it('creates users with unique emails (case-insensitive) and finds them by email and id', async () => {
      const u = await user();
      expect(u).toEqual({
        id: expect.stringMatching(/^[1-9]\d*$/),
        email: expect.any(String),
        nickname: expect.any(String),
        status: 'OFFLINE',
        lastSeenAt: null,
      });
      await expect(store.createUser({ email: u.email.toUpperCase(), passwordHash: 'x', nickname: 'dup' })).rejects.toMatchObject({ code: 'email-taken' });
      const byEmail = await store.findUserByEmail(u.email.toLowerCase());
      expect(byEmail).toEqual({ ...u, passwordHash: `hash-${n}`, deletedAt: null });
      expect(await store.findUserById(u.id)).toEqual(byEmail);
      expect(await store.findUserById(NO_SUCH_ID)).toBeNull();
      expect(await store.findUserByEmail(`nobody-${tag}@example.com`)).toBeNull();
      const v = await user();
      expect((await store.existingUserIds([u.id, NO_SUCH_ID, v.id])).sort()).toEqual([u.id, v.id].sort());
      expect(await store.existingUserIds([])).toEqual([]);
      const many = await store.findUsersByIds([u.id, NO_SUCH_ID, v.id]);
      expect([...many.keys()].sort()).toEqual([u.id, v.id].sort());
      expect(many.get(u.id)).toEqual(byEmail);
      expect((await store.findUsersByIds([])).size).toBe(0);
    });

    it('searches users by exact email or nickname prefix, case-insensitively, with LIKE characters taken literally', async () => {
      const a = await user(`${tag}_x_alpha`);
      const b = await user(`${tag}ZxZbeta`);
      expect((await store.searchUsers(a.email.toUpperCase(), 10)).map((u) => u.id)).toEqual([a.id]);
      expect((await store.searchUsers(`${tag}_x_`.toUpperCase(), 10)).map((u) => u.id)).toEqual([a.id]);
      expect((await store.searchUsers(`${tag}`, 10)).map((u) => u.id)).toEqual(expect.arrayContaining([a.id, b.id]));
      expect(await store.searchUsers(`${tag}`, 1)).toHaveLength(1);
      expect(await store.searchUsers(`${tag}%beta`, 10)).toEqual([]);
      expect(await store.searchUsers(b.email.slice(0, -1), 10)).toEqual([]);
    });

    it('changes a status only when it differs, with its last-seen time', async () => {
      const u = await user();
      const at = new Date('2026-02-03T04:05:06.789Z');
      expect(await store.setUserStatus(u.id, 'ONLINE', at)).toBe(true);
      expect(await store.setUserStatus(u.id, 'ONLINE', new Date())).toBe(false);
      expect(await store.findUserById(u.id)).toMatchObject({ status: 'ONLINE', lastSeenAt: at.toISOString() });
      expect(await store.onlineUserIds(1_000_000)).toContain(u.id);
      expect(await store.setUserStatus(u.id, 'OFFLINE', at)).toBe(true);
      expect(await store.onlineUserIds(1_000_000)).not.toContain(u.id);
      const other = await user();
      await store.setUserStatus(other.id, 'ONLINE', at);
      expect(await store.offlineUserIds([u.id, other.id, '999999999999'])).toEqual([u.id]);
      expect(await store.offlineUserIds([])).toEqual([]);
    });

    it('creates group rooms with their members and answers membership questions, in input order', async () => {
      const [owner, m1, m2] = [await user(), await user(), await user()];
      const before = new Date(Date.now() - 60_000);
      const room = await store.createGroupRoom(owner.id, `${tag} room`, [m1.id, m1.id, owner.id], 'private');
      expect(room).toEqual({
        id: expect.any(String),
        name: `${tag} room`,
        type: 'GROUP',
        visibility: 'private',
        createdBy: owner.id,
        createdAt: expect.any(String),
      });
      expect(await store.getRoom(room.id)).toEqual(room);
      expect(await store.getRoom(NO_SUCH_ID)).toBeNull();
      const pub = await store.createGroupRoom(m2.id, `${tag} public`, [], 'public');
      expect(pub.visibility).toBe('public');

      expect(await store.isMember(room.id, owner.id)).toBe(true);
      expect(await store.isMember(room.id, m2.id)).toBe(false);
      expect(
        await store.areMembers([
          { roomId: room.id, userId: m2.id },
          { roomId: room.id, userId: m1.id },
          { roomId: NO_SUCH_ID, userId: m1.id },
          { roomId: pub.id, userId: m2.id },
          { roomId: room.id, userId: owner.id },
        ]),
      ).toEqual([false, true, false, true, true]);
      expect(await store.areMembers([])).toEqual([]);

      const members = await store.memberIds([room.id, pub.id, NO_SUCH_ID]);
      expect(members.get(room.id)?.sort()).toEqual([owner.id, m1.id].sort());
      expect(members.get(pub.id)).toEqual([m2.id]);
      expect(members.has(NO_SUCH_ID)).toBe(false);
      const list = await store.listMembers(room.id);
      const expected = [owner, m1].sort((x, y) => (BigInt(x.id) < BigInt(y.id) ? -1 : 1));
      expect(list).toEqual(expected.map((u) => ({ userId: u.id, nickname: u.nickname, status: 'OFFLINE', lastSeenAt: null, lastReadSeq: '0' })));

      expect(await store.countRoomsCreatedSince(owner.id, before)).toBe(1);
      expect(await store.countRoomsCreatedSince(owner.id, new Date(Date.now() + 60_000))).toBe(0);
    });

    it('invitations: idempotent, consumed by joining; join and leave report whether they changed anything', async () => {
      const [owner, guest] = [await user(), await user()];
      const room = await store.createGroupRoom(owner.id, `${tag} invite`, [], 'private');
      expect(await store.isInvited(room.id, guest.id)).toBe(false);
      await store.invite(room.id, guest.id, owner.id);
      await store.invite(room.id, guest.id, owner.id);
      expect(await store.isInvited(room.id, guest.id)).toBe(true);
      expect(await store.addMember(room.id, guest.id)).toBe(true);
      expect(await store.isInvited(room.id, guest.id)).toBe(false);
      expect(await store.addMember(room.id, guest.id)).toBe(false);
      expect(await store.isMember(room.id, guest.id)).toBe(true);
      expect(await store.roomIdsOfUser(guest.id)).toEqual([room.id]);
      expect(await store.removeMember(room.id, guest.id)).toBe(true);
      expect(await store.removeMember(room.id, guest.id)).toBe(false);
      expect(await store.isMember(room.id, guest.id)).toBe(false);
      expect(await store.roomIdsOfUser(guest.id)).toEqual([]);
    });

    it('keeps one DIRECT room per pair, whichever way round and however many ask at once', async () => {
      const [a, b, c, d] = [await user(), await user(), await user(), await user()];
      const first = await store.findOrCreateDirectRoom(a.id, b.id, 'ab');
      expect(first.created).toBe(true);
      expect(first.room).toMatchObject({ type: 'DIRECT', visibility: 'private', createdBy: a.id });
      const again = await store.findOrCreateDirectRoom(b.id, a.id, 'ba');
      expect(again).toEqual({ room: first.room, created: false, restored: [] });
      expect(await store.findDirectRoom(b.id, a.id)).toEqual(first.room);
      expect(await store.findDirectRoom(a.id, c.id)).toBeNull();
      expect((await store.memberIds([first.room.id])).get(first.room.id)?.sort()).toEqual([a.id, b.id].sort());
      const racing = await Promise.all(
        [0, 1, 2, 3, 4].map((i) => (i % 2 ? store.findOrCreateDirectRoom(c.id, d.id, 'cd') : store.findOrCreateDirectRoom(d.id, c.id, 'dc'))),
      );
      expect(new Set(racing.map((r) => r.room.id)).size).toBe(1);
      expect(racing.filter((r) => r.created)).toHaveLength(1);
    });

    it('blocks: idempotent, bounded per blocker, listed newest first; lifted idempotently; never oneself', async () => {
      const [me, x, y, z] = [await user(), await user(), await user(), await user()];
      expect(await store.block(me.id, x.id, 2)).toBe('blocked');
      expect(await store.block(me.id, x.id, 2)).toBe('already');
      expect(await store.block(me.id, y.id, 2)).toBe('blocked');
      expect(await store.block(me.id, z.id, 2)).toBe('limit');
      expect(await store.hasBlocked(me.id, z.id)).toBe(false);
      expect([await store.hasBlocked(me.id, x.id), await store.hasBlocked(x.id, me.id)]).toEqual([true, false]);
      const list = await store.listBlocked(me.id, 10);
      expect(list.map((b) => b.userId).sort()).toEqual([x.id, y.id].sort());
      expect(list[0]).toEqual({ userId: expect.any(String), nickname: expect.any(String), blockedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT.*Z$/) });
      expect(list.find((b) => b.userId === x.id)?.nickname).toBe(x.nickname);
      expect(await store.listBlocked(me.id, 1)).toHaveLength(1);
      expect(await store.unblock(me.id, x.id)).toBe(true);
      expect(await store.unblock(me.id, x.id)).toBe(false);
      expect(await store.block(me.id, z.id, 2)).toBe('blocked');
      expect((await store.listBlocked(me.id, 10)).map((b) => b.userId).sort()).toEqual([y.id, z.id].sort());
      await expect(store.block(me.id, me.id, 10)).rejects.toThrow();
    });

    it('addable users: existing, live, and not having blocked the one adding them — one answer for every refusal', async () => {
      const [adder, open, blocker, other] = [await user(), await user(), await user(), await user()];
      await store.block(blocker.id, adder.id, 10);
      await store.block(adder.id, open.id, 10); // the adder's own blocks do not matter here
      const ids = [open.id, blocker.id, NO_SUCH_ID, other.id];
      expect((await store.addableUserIds(adder.id, ids)).sort()).toEqual([open.id, other.id].sort());
      // A block counts against the one blocked only.
      expect((await store.addableUserIds(other.id, [open.id, blocker.id, NO_SUCH_ID, adder.id])).sort()).toEqual([open.id, blocker.id, adder.id].sort());
      expect(await store.addableUserIds(adder.id, [])).toEqual([]);
    });

    it('a DIRECT room that lost a member (a block) keeps its peer in the list and gets the member back, with the history, when opened again', async () => {
      const [a, b] = [await user(), await user()];
      const { room } = await store.findOrCreateDirectRoom(a.id, b.id, 'ab');
      expect(await store.insertMessages([message(room.id, a.id, 1), message(room.id, b.id, 2)])).toBe(2);
      expect(await store.removeMember(room.id, b.id)).toBe(true);
      // The blocker's list still names the peer (from the pair, not from the members).
      expect((await store.listRoomsForUser(a.id)).find((r) => r.id === room.id)).toMatchObject({ members: 1, peer: { userId: b.id, nickname: b.nickname } });
      expect((await store.listRoomsForUser(b.id)).find((r) => r.id === room.id)).toBeUndefined();
      const back = await store.findOrCreateDirectRoom(b.id, a.id, 'ba');
      expect(back).toEqual({ room, created: false, restored: [b.id] });
      expect(await store.isMember(room.id, b.id)).toBe(true);
      expect((await store.messagesAfter(room.id, '0', 10)).map((m) => m.seq)).toEqual(['1', '2']);
      // Put back as anyone joining: read up to the newest message.
      expect((await store.listRoomsForUser(b.id)).find((r) => r.id === room.id)?.lastReadSeq).toBe('2');
    });

    it('stores messages idempotently (message id, room seq, sender idempotency key) and pages them by seq', async () => {
      const [a, b] = [await user(), await user()];
      const room = await store.createGroupRoom(a.id, `${tag} messages`, [b.id], 'private');
      const msgs = [1, 2, 3, 4, 5].map((s) => message(room.id, s % 2 ? a.id : b.id, s, s === 2 ? { idempotencyKey: `${tag}-key`, type: 'IMAGE' } : {}));
      expect(await store.insertMessages(msgs)).toBe(5);
      expect(await store.insertMessages(msgs)).toBe(0);
      expect(await store.insertMessages([message(room.id, b.id, 6, { idempotencyKey: `${tag}-key` })])).toBe(0);
      expect(await store.insertMessages([message(room.id, a.id, 3)])).toBe(0);
      expect(await store.insertMessages([])).toBe(0);

      expect(await store.messagesAfter(room.id, '0', 10)).toEqual(msgs);
      expect(await store.messagesAfter(room.id, '2', 2)).toEqual([msgs[2], msgs[3]]);
      expect(await store.messagesAfter(room.id, '5', 10)).toEqual([]);
      expect(await store.messagesBefore(room.id, null, 2)).toEqual([msgs[4], msgs[3]]);
      expect(await store.messagesBefore(room.id, '4', 10)).toEqual([msgs[2], msgs[1], msgs[0]]);
      expect(await store.findMessageByIdempotencyKey(b.id, `${tag}-key`)).toEqual(msgs[1]);
      expect(await store.findMessageByIdempotencyKey(a.id, `${tag}-key`)).toBeNull();
      expect(await store.maxSeq(room.id)).toBe('5');
      const empty = await store.createGroupRoom(a.id, `${tag} empty`, [], 'private');
      expect(await store.maxSeq(empty.id)).toBe('0');
      const seqs = await store.storedSeqs([msgs[0]!.id, randomUUID(), msgs[4]!.id]);
      expect(seqs).toEqual(
        new Map([
          [msgs[0]!.id, '1'],
          [msgs[4]!.id, '5'],
        ]),
      );
      expect(await store.storedSeqs([])).toEqual(new Map());
    });

    it('stores a batch above the per-statement row limit in one go', async () => {
      const a = await user();
      const room = await store.createGroupRoom(a.id, `${tag} big`, [], 'private');
      const msgs = Array.from({ length: 1001 }, (_, i) => message(room.id, a.id, i + 1));
      expect(await store.insertMessages(msgs)).toBe(1001);
      expect(await store.maxSeq(room.id)).toBe('1001');
      expect(await store.insertMessages(msgs)).toBe(0);
    });

    it("counts a member's unread messages (not their own), and moves read positions forward only", async () => {
      const [a, b, late] = [await user(), await user(), await user()];
      const room = await store.createGroupRoom(a.id, `${tag} unread`, [b.id], 'private');
      // a sends 1, 2, 4; b sends 3, 5.
      const senders = [a, a, b, a, b];
      await store.insertMessages(senders.map((u, i) => message(room.id, u.id, i + 1)));
      expect(
        await store.countUnread([
          { roomId: room.id, userId: a.id, afterSeq: '0' },
          { roomId: room.id, userId: b.id, afterSeq: '0' },
          { roomId: room.id, userId: b.id, afterSeq: '2' },
          { roomId: room.id, userId: a.id, afterSeq: '5' },
        ]),
      ).toEqual([2, 3, 1, 0]);
      expect(await store.countUnread([])).toEqual([]);
      expect(
        await store.countUnreadBefore([
          { roomId: room.id, userId: b.id, afterSeq: '0', beforeSeq: '4' },
          { roomId: room.id, userId: a.id, afterSeq: '1', beforeSeq: '5' },
        ]),
      ).toEqual([2, 1]);

      expect(await store.advanceReadSeq(room.id, b.id, '3', 1)).toBe('3');
      expect(await store.advanceReadSeq(room.id, b.id, '2', null)).toBe('3');
      expect(await store.advanceReadSeq(room.id, b.id, '10', 0)).toBe('10');
      expect(await store.advanceReadSeq(room.id, late.id, '4', 0)).toBe('0');
      expect((await store.listMembers(room.id)).find((m) => m.userId === b.id)?.lastReadSeq).toBe('10');

      // A member who joins later has read everything sent before: unread starts at the join.
      expect(await store.addMember(room.id, late.id)).toBe(true);
      expect((await store.listMembers(room.id)).find((m) => m.userId === late.id)?.lastReadSeq).toBe('5');
    });

    it("lists a user's rooms by id with members, last message and read position, page by page", async () => {
      const [me, other] = [await user(), await user()];
      const r1 = await store.createGroupRoom(me.id, `${tag} list 1`, [other.id], 'private');
      const r2 = await store.createGroupRoom(other.id, `${tag} list 2`, [me.id], 'public');
      const { room: r3 } = await store.findOrCreateDirectRoom(me.id, other.id, `${tag} direct`);
      await store.createGroupRoom(other.id, `${tag} not mine`, [], 'private');
      const msgs = [message(r2.id, other.id, 1), message(r2.id, me.id, 2, { idempotencyKey: `${tag}-last` })];
      await store.insertMessages(msgs);
      await store.advanceReadSeq(r2.id, me.id, '1', null);

      const all = await store.listRoomsForUser(me.id);
      expect(all.map((r) => r.id)).toEqual([r1.id, r2.id, r3.id]);
      expect(all[0]).toEqual({ ...r1, members: 2, lastMessage: null, lastReadSeq: '0', peer: null });
      expect(all[1]).toEqual({ ...r2, members: 2, lastMessage: msgs[1], lastReadSeq: '1', peer: null });
      // A DIRECT room names the other member.
      expect(all[2]).toEqual({ ...r3, members: 2, lastMessage: null, lastReadSeq: '0', peer: { userId: other.id, nickname: other.nickname } });
      expect((await store.listRoomsForUser(other.id)).find((r) => r.id === r3.id)?.peer).toEqual({ userId: me.id, nickname: me.nickname });
      expect((await store.listRoomsForUser(me.id, { limit: 2 })).map((r) => r.id)).toEqual([r1.id, r2.id]);
      expect((await store.listRoomsForUser(me.id, { limit: 2, afterId: r2.id })).map((r) => r.id)).toEqual([r3.id]);
      expect(await store.listRoomsForUser(me.id, { limit: 2, afterId: r3.id })).toEqual([]);
    });

    it('stores notifications once per (user, message) and lists them newest first', async () => {
      const [a, b] = [await user(), await user()];
      const room = await store.createGroupRoom(a.id, `${tag} notify`, [b.id], 'private');
      const row = (seq: number, messageId = randomUUID()) => ({
        userId: b.id,
        roomId: room.id,
        messageId,
        seq: String(seq),
        senderId: a.id,
        preview: `hi ${seq}`,
      });
      const first = row(1);
      expect(await store.insertNotifications([first, row(2), { ...first, preview: 'again' }])).toBe(2);
      expect(await store.insertNotifications([])).toBe(0);
      const listed = await store.listNotifications(b.id, 10);
      expect(listed.map((x) => [x.seq, x.preview])).toEqual([
        ['2', 'hi 2'],
        ['1', 'hi 1'],
      ]);
      expect(listed[1]).toEqual({ ...first, id: expect.any(String), createdAt: expect.any(String) });
      expect(await store.listNotifications(b.id, 1)).toHaveLength(1);
      expect(await store.listNotifications(a.id, 10)).toEqual([]);
    });

    it('answers ping', async () => {
      await expect(store.ping()).resolves.toBeUndefined();
    });
  });
}
