// Ports the chat use cases depend on, beyond the store and the message log.
import type { ChatMessage } from './model.js';

export type IdempotencyRecord = { state: 'pending'; messageId: string } | { state: 'done'; message: ChatMessage };

/**
 * Maps (sender, idempotency key) to one message. `claim` is atomic (first caller wins); a claim
 * that is never completed expires, so a crashed send can be retried.
 */
export interface IdempotencyStore {
  /** null when this caller now owns the key; otherwise what the key already maps to. */
  claim(senderId: string, key: string, messageId: string): Promise<IdempotencyRecord | null>;
  complete(senderId: string, key: string, message: ChatMessage): Promise<void>;
  release(senderId: string, key: string): Promise<void>;
  get(senderId: string, key: string): Promise<IdempotencyRecord | null>;
}

/** Ephemeral events to a room's `.events` topic or a user's notification queue (at most once). */
export interface EventPublisher {
  roomEvent(roomId: string, eventType: string, body: unknown): Promise<void>;
  userEvent(userId: string, eventType: string, body: unknown): Promise<void>;
}
