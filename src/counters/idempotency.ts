// The idempotency port: (sender, client key) -> one message, so a retried send never creates a second one.
import type { ChatMessage } from '../shared/model.js';

export type IdempotencyRecord = { state: 'pending'; messageId: string } | { state: 'done'; message: ChatMessage };

/**
 * `claim` is atomic (the first caller wins); a claim that is never completed expires (seconds), so a send that
 * crashed mid-way can be retried; completed keys are remembered for a day. The store's unique key
 * (sender, idempotency key) stays the durable backstop when this cache forgets.
 */
export interface IdempotencyStore {
  /**
   * null when this caller now owns the key; otherwise what the key already maps to. The same claim made again (same
   * message id: a command resent after a reconnect) owns the key too.
   */
  claim(senderId: string, key: string, messageId: string): Promise<IdempotencyRecord | null>;
  complete(senderId: string, key: string, message: ChatMessage): Promise<void>;
  release(senderId: string, key: string): Promise<void>;
  /**
   * Gives a pending claim of `messageId` a full pending lifetime again (while its send's outcome is still unknown);
   * a key that is done, gone or claimed for another message is left as it is.
   */
  renew(senderId: string, key: string, messageId: string): Promise<void>;
}
