// `npm test` on a broker that outlived earlier runs: the suite's consumer groups start at the end of the topics.
//
// The app's groups subscribe fromBeginning (right for a deployment: nothing produced before a group first ran is
// skipped). A test run, though, shares the broker with earlier runs, benches and other engineers' servers: the
// topics can hold hundreds of thousands of records of rooms that no longer exist, which a new or long-idle group
// would first have to dead-letter, record by record, before the suite's own messages come through. Records of
// earlier runs are not this run's business, so before any server starts, each group of the suite (its
// KAFKA_GROUP_PREFIX + the app's names) that has no live member is moved to the topics' ends.
import kafkajs from 'kafkajs';

// Node 24 loads the .ts directly (type stripping): the same fix the app installs, so no 1 ms timer loop and no
// TimeoutNegativeWarning from an admin client here either.
import { fixKafkajsRequestQueue } from '../src/kafka/kafkajs-request-queue-fix.ts';
import { TOPICS } from '../src/shared/defaults.ts';

const { Kafka, logLevel } = kafkajs;
fixKafkajsRequestQueue();

/** As src/metrics/kafka-lag.ts CONSUMER_GROUP_TOPICS names them (test/ops/metrics.test.ts keeps the two equal). */
export const SUITE_GROUP_TOPICS = Object.freeze([
  { group: 'chat-persist', topic: TOPICS.messages },
  { group: 'chat-broadcast', topic: TOPICS.messages },
  { group: 'chat-notify', topic: TOPICS.messages },
  { group: 'chat-receipts', topic: TOPICS.readReceipts },
]);

/**
 * Moves every group of the suite without live members to the end of its topic. Returns what was skipped per
 * group (records behind the end) so the caller can log it.
 */
export async function startGroupsAtEnd({ brokers, prefix = '', log = () => {} }) {
  const kafka = new Kafka({ clientId: 'test-groups', brokers, logLevel: logLevel.NOTHING, retry: { retries: 3 } });
  const admin = kafka.admin();
  await admin.connect();
  try {
    const groupIds = SUITE_GROUP_TOPICS.map((g) => prefix + g.group);
    const { groups } = await admin.describeGroups(groupIds);
    const busy = new Set(groups.filter((g) => g.members.length > 0).map((g) => g.groupId));
    const ends = new Map();
    const moved = [];
    for (const { group, topic } of SUITE_GROUP_TOPICS) {
      const groupId = prefix + group;
      if (busy.has(groupId)) {
        log(`kafka: ${groupId} has live members (another run?); left where it is`);
        continue;
      }
      if (!ends.has(topic)) ends.set(topic, await admin.fetchTopicOffsets(topic));
      const end = ends.get(topic);
      const [committed] = await admin.fetchOffsets({ groupId, topics: [topic] });
      const behind = end.reduce((n, p) => {
        const at = committed?.partitions.find((c) => c.partition === p.partition)?.offset ?? '-1';
        const from = Number(at) < 0 ? Number(p.low) : Number(at);
        return n + Math.max(0, Number(p.high) - from);
      }, 0);
      if (behind === 0) continue;
      await admin.setOffsets({ groupId, topic, partitions: end.map((p) => ({ partition: p.partition, offset: p.high })) });
      moved.push(`${groupId} (${behind} skipped)`);
    }
    if (moved.length) log(`kafka: consumer groups moved to the topics' ends: ${moved.join(', ')}`);
    return moved;
  } finally {
    await admin.disconnect();
  }
}
