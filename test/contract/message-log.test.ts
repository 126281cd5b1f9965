// The message log contract against the embedded log (local files) and the real Kafka at KAFKA_BROKERS.
import { afterAll } from 'vitest';
import { KafkaConsumerGroups } from '../../src/kafka/consumer-groups.js';
import { KafkaMessageLog, createKafka } from '../../src/kafka/kafka-log.js';
import { LocalConsumerGroups } from '../../src/local-log/consumers.js';
import { LocalMessageLog } from '../../src/local-log/local-log.js';
import { TOPICS, type ConsumerGroup, type ConsumerGroups } from '../../src/log/message-log.js';
import { MAX_ATTEMPTS, messageLogContract } from './message-log.contract.js';
import { noMetrics, tempDir, testLogger, uniqueName } from './support.js';
import { readSetting } from '../../src/config.js';
import { TOPIC_PARTITIONS } from '../../src/shared/defaults.js';

const log = testLogger();
const folder = await tempDir('contract-local-log');
afterAll(() => folder.remove());

/** The app's shape: the embedded log opens its topics with it, and the suite's Kafka topics below are made alike. */
const PARTITIONS = TOPIC_PARTITIONS[TOPICS.messages];

messageLogContract('local files (embedded)', {
  partitions: PARTITIONS,
  topics: TOPICS,
  deliveryMs: 5_000,
  open: async () => {
    const messageLog = await LocalMessageLog.open({ dir: folder.dir, log, metrics: noMetrics });
    const groups = new LocalConsumerGroups({ log: messageLog, logger: log, metrics: noMetrics, maxAttempts: MAX_ATTEMPTS, backoffMs: 10 });
    // Closing the log stops its groups first.
    return { log: messageLog, groups, close: () => messageLog.close() };
  },
});

const brokers = readSetting('KAFKA_BROKERS');
// The suite's own topics (an app server reading chat.messages would try to store records of rooms that do not
// exist); they and every group made on the broker are deleted at the end (not at each close: a restart must find
// its offsets).
const run = uniqueName('contract');
const topics = { messages: `${run}.messages`, readReceipts: `${run}.read-receipts`, deadLetter: `${run}.dlt` };
const groupIds = new Set<string>();
const admin = createKafka(brokers, 'contract-admin', log).admin();
await admin.connect();
await admin.createTopics({
  waitForLeaders: true,
  topics: (['messages', 'readReceipts', 'deadLetter'] as const).map((t) => ({
    topic: topics[t],
    numPartitions: TOPIC_PARTITIONS[TOPICS[t]],
    replicationFactor: 1,
  })),
});
afterAll(async () => {
  await admin.deleteGroups([...groupIds]).catch(() => {});
  await admin.deleteTopics({ topics: Object.values(topics) }).catch(() => {});
  await admin.disconnect();
});

messageLogContract('Kafka', {
  partitions: PARTITIONS,
  topics,
  deliveryMs: 45_000,
  open: async () => {
    const instanceId = uniqueName('contract');
    const kafka = createKafka(brokers, instanceId, log);
    const messageLog = new KafkaMessageLog({ kafka, instanceId, log, metrics: noMetrics, lingerMs: 2, topics });
    await messageLog.connect();
    const inner = new KafkaConsumerGroups({
      kafka,
      log,
      metrics: noMetrics,
      deadLetter: messageLog,
      deadLetterTopic: topics.deadLetter,
      sessionTimeoutMs: 10_000,
      maxAttempts: MAX_ATTEMPTS,
      backoffMs: 10,
    });
    const made: ConsumerGroup[] = [];
    const groups: ConsumerGroups = {
      create: (options) => {
        groupIds.add(options.groupId);
        const g = inner.create(options);
        made.push(g);
        return g;
      },
    };
    return {
      log: messageLog,
      groups,
      close: async () => {
        await Promise.allSettled(made.map((g) => g.close()));
        await messageLog.close();
      },
    };
  },
});
