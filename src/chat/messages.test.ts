// MessageService with an idempotency key whose claim stays pending: the send that waits for it finds the message in
// the store (the claim's completion was lost with a failed-over Redis primary) instead of failing with `conflict`.
import { describe, expect, it } from 'vitest';
import type { IdempotencyStore } from '../counters/idempotency.js';
import type { ChatMessage } from '../shared/model.js';
import { MessageService } from './messages.js';

const user = { id: '7', email: 'a@b.c', nickname: 'a' } as never;

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
    });
    const t0 = Date.now();
    const result = await service.send(user, '3', { content: 'hello', type: 'TEXT', idempotencyKey: 'k-1' });
    expect(result).toEqual({ message: stored, duplicate: true });
    expect(appended).toEqual([]);
    expect(Date.now() - t0).toBeLessThan(2000);
  });
});
