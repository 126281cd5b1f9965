// What the app, the stack scripts and the tests must agree on, written once: where the local services listen and the
// message log's topics with their partitions. config.ts takes its defaults from here; the stack scripts are plain
// Node and load this file as it is (type stripping), so it imports nothing and uses only erasable TypeScript.

/** The defaults of the service settings: the addresses `npm run stack:up` serves (API.md, Configuration). */
export const SERVICE_DEFAULTS = Object.freeze({
  DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/chat',
  REDIS_URL: 'redis://127.0.0.1:6379',
  KAFKA_BROKERS: '127.0.0.1:9092',
  /** The primary's name the sentinels monitor (`stack:up -- --redis-sentinel` and compose's `ha` profile use it). */
  REDIS_SENTINEL_NAME: 'chat',
});

/** The log's topics (adapters take other names: tests give their own so they never share the app's). */
export const TOPICS = Object.freeze({
  messages: 'chat.messages',
  readReceipts: 'chat.read-receipts',
  deadLetter: 'chat.messages.dlt',
} as const);

/**
 * Partitions per topic, in creation order: Kafka's as `stack:up` and compose's kafka-init create them, the embedded
 * log's files. A room's partition is its id mod the count, so changing one moves rooms (and their order) elsewhere.
 */
export const TOPIC_PARTITIONS = Object.freeze({
  [TOPICS.messages]: 6,
  [TOPICS.readReceipts]: 3,
  [TOPICS.deadLetter]: 1,
} as const);
