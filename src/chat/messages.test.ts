// MessageService when the log does not acknowledge: a send never handed to the log frees its idempotency key at
// once; a send in doubt keeps the key until the log knows, so a retry under the same key answers with the message
// that landed (never a second record), or writes it anew when it surely did not land. And a claim that stays
// pending (its completion lost with a failed-over Redis primary) is answered from the store, not with `conflict`.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { MemoryIdempotencyStore } from '../counters/idempotency-memory.js';
import type { IdempotencyStore } from '../counters/idempotency.js';
import { LogUnavailableError } from '../log/message-log.js';
import type { Appended, ChatMessage, NewMessage, User } from '../shared/model.js';
import { MessageService } from './messages.js';

const user: User = { id: '7', email: 'a@x', nickname: 'a', status: 'ONLINE', lastSeenAt: null };
const input = (key: string | null) => ({ content: 'hello', type: 'TEXT' as const, idempotencyKey: key });

function service(append: (m: NewMessage) => Promise<Appended>, idempotency = new MemoryIdempotencyStore()) {
  const appended: NewMessage[] = [];
  const svc = new MessageService({
    store: { findMessageByIdempotencyKey: async () => null, messagesAfter: async () => [], messagesBefore: async () => [] },
    log: {
      append: (m) => {
        appended.push(m);
        return append(m);
      },
      appendAtomically: async () => [],
    },
    idempotency,
    membership: { require: async () => {}, check: async (pairs) => pairs.map(() => true) },
    reads: { views: async (_r: string, list: readonly ChatMessage[]) => list.map((m) => ({ ...m, unreadCount: 0 })) },
    claimWaitMs: 2000,
    dropped: () => {},
  });
  return { svc, appended, idempotency };
}

const place = (offset: number): Appended => ({ partition: 1, offset: String(offset), seq: String(offset + 1) });

afterEach(() => vi.useRealTimers());

describe('MessageService: sends the log did not acknowledge', () => {
  it('never sent: server-unavailable, and a retry under the same key appends it', async () => {
    let first = true;
    const { svc, appended } = service(async () => {
      if (first) {
        first = false;
        throw new LogUnavailableError('not sent', false);
      }
      return place(4);
    });
    await expect(svc.send(user, '1', input('k1'))).rejects.toMatchObject({ code: 'server-unavailable' });
    const retry = await svc.send(user, '1', input('k1'));
    expect(retry).toMatchObject({ duplicate: false, message: { seq: '5' } });
    expect(appended).toHaveLength(2);
  });

  it('in doubt, then landed: the retry waits for the outcome and answers with that message — one record, its seq', async () => {
    let land!: (a: Appended | null | 'unknown') => void;
    const outcome = new Promise<Appended | null | 'unknown'>((r) => (land = r));
    const { svc, appended } = service(async () => {
      throw new LogUnavailableError('in doubt', true, outcome);
    });
    await expect(svc.send(user, '1', input('k2'))).rejects.toMatchObject({ code: 'server-unavailable' });
    const retry = svc.send(user, '1', input('k2'));
    await new Promise((r) => setTimeout(r, 100));
    land(place(9));
    const r = await retry;
    expect(r.duplicate).toBe(true);
    expect(r.message).toMatchObject({ id: appended[0]!.id, seq: '10', offset: '9' });
    expect(appended).toHaveLength(1);
  });

  it('in doubt, then surely not written: the key is freed and the retry appends', async () => {
    let calls = 0;
    const { svc, appended } = service(async () => {
      if (calls++ === 0) throw new LogUnavailableError('in doubt', true, Promise.resolve(null));
      return place(2);
    });
    await expect(svc.send(user, '1', input('k3'))).rejects.toMatchObject({ code: 'server-unavailable' });
    await new Promise((r) => setTimeout(r, 20));
    const retry = await svc.send(user, '1', input('k3'));
    expect(retry).toMatchObject({ duplicate: false, message: { seq: '3' } });
    expect(appended).toHaveLength(2);
    expect(retry.message.id).toBe(appended[1]!.id);
  });

  it('in doubt for long: the pending claim is renewed while the outcome is unknown, and no more after it', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    let land!: (a: Appended | null | 'unknown') => void;
    const idempotency = new MemoryIdempotencyStore();
    const renew = vi.spyOn(idempotency, 'renew');
    const { svc } = service(async () => {
      throw new LogUnavailableError('in doubt', true, new Promise((r) => (land = r)));
    }, idempotency);
    await expect(svc.send(user, '1', input('k4'))).rejects.toMatchObject({ code: 'server-unavailable' });
    vi.advanceTimersByTime(35_000);
    expect(renew).toHaveBeenCalledTimes(3);
    land('unknown');
    await new Promise((r) => setImmediate(r));
    vi.advanceTimersByTime(30_000);
    expect(renew).toHaveBeenCalledTimes(3);
  });
});

describe('MessageService.send with a claim that stays pending', () => {
  it('answers with the stored message of that key once the store has it', async () => {
    const stored: ChatMessage = {
      id: 'm-1',
      roomId: '3',
      seq: '42',
      senderId: '7',
      type: 'TEXT',
      content: 'hello',
      idempotencyKey: 'k-1',
      createdAt: new Date().toISOString(),
      partition: 0,
      offset: '41',
    };
    let storeHasIt = false;
    setTimeout(() => (storeHasIt = true), 100);
    const appended: unknown[] = [];
    const idempotency: IdempotencyStore = {
      claim: async () => ({ state: 'pending', messageId: 'm-1' }),
      complete: async () => {},
      release: async () => {},
      renew: async () => {},
    };
    const service = new MessageService({
      store: {
        findMessageByIdempotencyKey: async () => (storeHasIt ? stored : null),
        messagesAfter: async () => [],
        messagesBefore: async () => [],
      },
      log: { append: async (m) => (appended.push(m), { seq: '1', offset: '0', partition: 0 }) as never, appendAtomically: async () => [] },
      idempotency,
      membership: { require: async () => {}, check: async (pairs) => pairs.map(() => true) },
      reads: { views: async () => [] },
      claimWaitMs: 3000,
      dropped: () => {},
    });
    const t0 = Date.now();
    const result = await service.send(user, '3', { content: 'hello', type: 'TEXT', idempotencyKey: 'k-1' });
    expect(result).toEqual({ message: stored, duplicate: true });
    expect(appended).toEqual([]);
    expect(Date.now() - t0).toBeLessThan(2000);
  });
});
