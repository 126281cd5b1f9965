// The persist consumer group: chat.messages -> PostgreSQL, one multi-row INSERT per batch (the batches of one
// fetch share it), idempotent on message id, so a redelivered batch (crash, rebalance) stores nothing twice.
import type { Metrics } from '../metrics/metrics.js';
import type { ChatMessage } from '../shared/model.js';
import { TurnBatch } from '../shared/turn-batch.js';
import type { Store } from '../store/store.js';
import type { BatchHandler } from '../log/message-log.js';
import { PoisonRecordError, decodeChatRecord } from '../log/records.js';

const FOREIGN_KEY_VIOLATION = '23503';

export const PERSIST_GROUP = 'chat-persist';

export function persistHandler(store: Pick<Store, 'insertMessages'>, metrics: Metrics): BatchHandler {
  const shared = new SharedInsert((messages) => store.insertMessages(messages));
  return async (records) => {
    // A poison record throws here; the consumer group then isolates it record by record.
    const messages = records.map(decodeChatRecord);
    let inserted: number;
    try {
      inserted = await shared.insert(messages);
    } catch (err) {
      // A message of a room (or sender) that does not exist can never be stored: poison, not an outage.
      if ((err as { code?: unknown }).code === FOREIGN_KEY_VIOLATION)
        throw new PoisonRecordError('a message of a room or sender that does not exist', { cause: err });
      throw err;
    }
    metrics.persistedMessages.inc(inserted);
  };
}

/**
 * A fetch brings every partition of the consumer at once, and the group hands them to the handler three at a time:
 * the batches handed over in one event-loop turn share one INSERT (one transaction: each batch is still stored
 * entirely or not at all) instead of a statement each. When the shared INSERT fails, each batch is inserted on its
 * own, so a batch that can never be stored fails alone and the others are not retried (or dead-lettered) with it.
 */
export class SharedInsert {
  private readonly turn: TurnBatch<readonly ChatMessage[], number>;

  constructor(private readonly insertRows: (messages: readonly ChatMessage[]) => Promise<number>) {
    this.turn = new TurnBatch((parts) => insertRows(parts.length === 1 ? parts[0]! : parts.flat()));
  }

  /** Stores `messages`; resolves to the rows this call counts as stored (the whole turn's for its first call). */
  async insert(messages: readonly ChatMessage[]): Promise<number> {
    const { index, items, result } = this.turn.join(messages);
    try {
      const total = await result;
      return index === 0 ? total : 0;
    } catch (err) {
      if (items.length === 1) throw err;
      return this.insertRows(messages);
    }
  }
}
