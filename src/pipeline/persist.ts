// The persist consumer group: chat.messages -> PostgreSQL, one multi-row INSERT per batch,
// idempotent on message id, so a redelivered batch (crash, rebalance) stores nothing twice.
import type { Metrics } from '../metrics/metrics.js';
import type { Store } from '../store/store.js';
import type { BatchHandler } from './message-log.js';
import { decodeChatRecord } from './records.js';

export const PERSIST_GROUP = 'chat-persist';

export function persistHandler(store: Pick<Store, 'insertMessages'>, metrics: Metrics): BatchHandler {
  return async (records) => {
    // A poison record throws here; the consumer group then isolates it record by record.
    const messages = records.map(decodeChatRecord);
    const inserted = await store.insertMessages(messages);
    metrics.persistedMessages.inc(inserted);
  };
}
