// The persist consumer group: chat.messages -> PostgreSQL, one multi-row INSERT per batch,
// idempotent on message id, so a redelivered batch (crash, rebalance) stores nothing twice.
import type { Metrics } from '../metrics/metrics.js';
import type { Store } from '../store/store.js';
import type { BatchHandler } from '../log/message-log.js';
import { PoisonRecordError, decodeChatRecord } from '../log/records.js';

const FOREIGN_KEY_VIOLATION = '23503';

export const PERSIST_GROUP = 'chat-persist';

export function persistHandler(store: Pick<Store, 'insertMessages'>, metrics: Metrics): BatchHandler {
  return async (records) => {
    // A poison record throws here; the consumer group then isolates it record by record.
    const messages = records.map(decodeChatRecord);
    let inserted: number;
    try {
      inserted = await store.insertMessages(messages);
    } catch (err) {
      // A message of a room (or sender) that does not exist can never be stored: poison, not an outage.
      if ((err as { code?: unknown }).code === FOREIGN_KEY_VIOLATION)
        throw new PoisonRecordError('a message of a room or sender that does not exist', { cause: err });
      throw err;
    }
    metrics.persistedMessages.inc(inserted);
  };
}
