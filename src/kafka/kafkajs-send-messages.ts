// A corrected `producer/sendMessages.js` for kafkajs 2.2.4 (the library is unmaintained; see kafkajs.ts for how it
// is installed). The original keeps the answers of a produce call per *broker* across its retries and re-sends only
// to brokers without an answer. When a leader moves between two attempts (a node killed under load), a partition of
// the failed request can move to a broker that already answered for other partitions: it is never sent again, and
// the call resolves without it — records silently not written, their sequence numbers handed back for the next
// send to reuse (measured on a 3-node cluster: a produce answer without the partition's offset). This version keeps
// the answers per *partition* and, on every attempt, sends each partition not yet answered to its current leader —
// after every request of the previous attempt has settled (the original retries while some are still in flight, and a
// partition re-sent then is written twice under new sequence numbers). Everything else (sequence numbers and their roll-back, the broker lock, transactions, error handling) is the
// original's.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

interface PartitionAnswer {
  topicName: string;
  partition: number;
  [field: string]: unknown;
}

interface Broker {
  nodeId: number;
  produce(request: object): Promise<{ topics: Array<{ topicName: string; partitions: Array<{ partition: number }> }> }>;
}

interface Internals {
  logger: { debug(m: string, x?: object): void; error(m: string, x?: object): void };
  cluster: {
    refreshMetadataIfNecessary(): Promise<void>;
    refreshMetadata(): Promise<void>;
    findTopicPartitionMetadata(topic: string): Array<{ partitionId: number; leader: number }>;
    findLeaderForPartitions(topic: string, partitions: string[]): Record<string, number[]>;
    findBroker(o: { nodeId: string }): Promise<Broker>;
    addMultipleTargetTopics(topics: string[]): Promise<void>;
    isConnected(): boolean;
    connect(): Promise<void>;
    removeBroker(o: { host: string; port: number }): void;
    targetTopics: Set<string>;
  };
  partitioner: unknown;
  eosManager: {
    acquireBrokerLock(b: Broker): Promise<void>;
    releaseBrokerLock(b: Broker): Promise<void>;
    isTransactional(): boolean;
    addPartitionsToTransaction(topicData: object): Promise<void>;
    getSequence(topic: string, partition: number): number;
    updateSequence(topic: string, partition: number, n: number): void;
    getTransactionalId(): string;
    getProducerId(): number;
    getProducerEpoch(): number;
  };
  retrier: <T>(fn: (bail: (e: unknown) => void, retryCount: number, retryTime: number) => Promise<T>) => Promise<T>;
}

interface SendOptions {
  acks: number;
  timeout: number;
  compression: number;
  topicMessages: Array<{ topic: string; messages: unknown[] }>;
}

type KafkaError = Error & { name: string; type?: string; retriable?: boolean; host: string; port: number };
type TopicData = Array<{ topic: string; partitions: Array<{ partition: number; messages: unknown[]; firstSequence?: number }> }>;

/** kafkajs' own helpers the original uses, loaded once. */
function kafkajsHelpers() {
  return {
    KafkaJSMetadataNotLoaded: (require('kafkajs/src/errors.js') as { KafkaJSMetadataNotLoaded: new (m: string) => Error }).KafkaJSMetadataNotLoaded,
    staleMetadata: (require('kafkajs/src/protocol/error.js') as { staleMetadata(e: unknown): boolean }).staleMetadata,
    groupMessagesPerPartition: require('kafkajs/src/producer/groupMessagesPerPartition.js') as (o: object) => Record<string, unknown[]>,
    responseSerializer: require('kafkajs/src/producer/responseSerializer.js') as (r: object) => PartitionAnswer[],
  };
}
type Helpers = ReturnType<typeof kafkajsHelpers>;

/** The module's export, as kafkajs' messageProducer calls it: one `sendMessages` per producer. */
export function createSendMessages(internals: Internals) {
  const helpers = kafkajsHelpers();
  return (options: SendOptions) => sendMessages(internals, helpers, options);
}

async function sendMessages(ctx: Internals, helpers: Helpers, options: SendOptions): Promise<PartitionAnswer[]> {
  /** `topic/partition` -> its answer; kept across attempts, so a partition is written once, whoever leads it. */
  const answered = new Map<string, PartitionAnswer>();
  return ctx.retrier(async (bail) => {
    await ctx.cluster.addMultipleTargetTopics(options.topicMessages.map(({ topic }) => topic));
    try {
      await attempt(ctx, helpers, options, answered);
      return [...answered.values()];
    } catch (err) {
      await onError(ctx, helpers, err as KafkaError, bail);
      return [];
    }
  });
}

/** One attempt: every partition without an answer, grouped by its leader now. */
async function attempt(ctx: Internals, helpers: Helpers, options: SendOptions, answered: Map<string, PartitionAnswer>): Promise<void> {
  const { cluster, logger, partitioner } = ctx;
  await cluster.refreshMetadataIfNecessary();
  const perBroker = new Map<string, TopicData>();
  for (const { topic, messages } of options.topicMessages) {
    const partitionMetadata = cluster.findTopicPartitionMetadata(topic);
    if (partitionMetadata.length === 0) {
      logger.debug('Producing to topic without metadata', { topic, targetTopics: Array.from(cluster.targetTopics) });
      throw new helpers.KafkaJSMetadataNotLoaded('Producing to topic without metadata');
    }
    const messagesPerPartition = helpers.groupMessagesPerPartition({ topic, partitionMetadata, messages, partitioner });
    const pending = Object.keys(messagesPerPartition).filter((p) => !answered.has(`${topic}/${p}`));
    for (const [nodeId, partitions] of Object.entries(cluster.findLeaderForPartitions(topic, pending))) {
      const list = perBroker.get(nodeId) ?? [];
      list.push({ topic, partitions: partitions.map((partition) => ({ partition: Number(partition), messages: messagesPerPartition[partition]! })) });
      perBroker.set(nodeId, list);
    }
  }
  // Every request settles before the next attempt: a partition still in flight to a broker that has not answered
  // (acks=all waits for a dead follower until the in-sync set shrinks) must not be sent again meanwhile — the
  // second request would take the next sequence numbers and write the records twice.
  const sends = [...perBroker].map(async ([nodeId, topicData]) =>
    sendToBroker(ctx, helpers, options, await cluster.findBroker({ nodeId }), topicData, answered),
  );
  const failed = (await Promise.allSettled(sends)).find((r) => r.status === 'rejected');
  if (failed) throw failed.reason;
}

/** The original's request to one broker: sequence numbers under the broker lock, rolled back when it fails. */
async function sendToBroker(
  ctx: Internals,
  helpers: Helpers,
  options: SendOptions,
  broker: Broker,
  topicData: TopicData,
  answered: Map<string, PartitionAnswer>,
): Promise<void> {
  const { eosManager } = ctx;
  const { acks, timeout, compression } = options;
  await eosManager.acquireBrokerLock(broker);
  try {
    if (eosManager.isTransactional()) await eosManager.addPartitionsToTransaction(topicData);
    for (const { topic, partitions } of topicData) {
      for (const entry of partitions) {
        entry.firstSequence = eosManager.getSequence(topic, entry.partition);
        eosManager.updateSequence(topic, entry.partition, entry.messages.length);
      }
    }
    let response;
    try {
      response = await broker.produce({
        transactionalId: eosManager.isTransactional() ? eosManager.getTransactionalId() : undefined,
        producerId: eosManager.getProducerId(),
        producerEpoch: eosManager.getProducerEpoch(),
        acks,
        timeout,
        compression,
        topicData,
      });
    } catch (e) {
      for (const { topic, partitions } of topicData) for (const entry of partitions) eosManager.updateSequence(topic, entry.partition, -entry.messages.length);
      throw e;
    }
    if (acks === 0) {
      for (const { topic, partitions } of topicData)
        for (const { partition } of partitions) answered.set(`${topic}/${partition}`, { topicName: topic, partition });
      return;
    }
    for (const answer of helpers.responseSerializer(response)) answered.set(`${answer.topicName}/${answer.partition}`, answer);
  } finally {
    await eosManager.releaseBrokerLock(broker);
  }
}

/** The original's error handling: refresh and retry what can be retried, give up on the rest. */
async function onError(ctx: Internals, helpers: Helpers, e: KafkaError, bail: (e: unknown) => void): Promise<void> {
  const { cluster, logger } = ctx;
  if (e.name === 'KafkaJSConnectionClosedError') cluster.removeBroker({ host: e.host, port: e.port });
  if (!cluster.isConnected()) {
    logger.debug(`Cluster has disconnected, reconnecting: ${e.message}`);
    await cluster.connect();
    await cluster.refreshMetadata();
    throw e;
  }
  if (
    helpers.staleMetadata(e) ||
    e.name === 'KafkaJSMetadataNotLoaded' ||
    e.name === 'KafkaJSConnectionError' ||
    e.name === 'KafkaJSConnectionClosedError' ||
    (e.name === 'KafkaJSProtocolError' && e.retriable)
  ) {
    logger.error(`Failed to send messages: ${e.message}`);
    await cluster.refreshMetadata();
    throw e;
  }
  logger.error(`${e.message}`);
  if (e.retriable) throw e;
  bail(e);
}
