// The dead-letter port and src/ops/dead-letters.ts against the embedded log's local topic with marks in PGlite (as
// the embedded mode runs them) and against Kafka with marks in PostgreSQL (as the cluster mode and `npm run dlt`).
import { afterAll } from 'vitest';
import { MIGRATIONS_DIR } from '../../src/paths.js';
import { KafkaDeadLetters } from '../../src/kafka/dead-letters.js';
import { createKafka } from '../../src/kafka/kafka-log.js';
import { LocalDeadLetters } from '../../src/local-log/dead-letters.js';
import { LocalMessageLog } from '../../src/local-log/local-log.js';
import { KyselyDeadLetterMarks } from '../../src/store/kysely-dead-letter-marks.js';
import { KyselyStore } from '../../src/store/kysely.js';
import { openPgliteStore } from '../../src/store/pglite.js';
import { deadLettersContract } from './dead-letters.contract.js';
import { noMetrics, tempDir, testLogger, uniqueName } from './support.js';
import { readSetting } from '../../src/config.js';
import { TOPICS, TOPIC_PARTITIONS } from '../../src/shared/defaults.js';

const log = testLogger();
const folder = await tempDir('contract-dead-letters');
afterAll(() => folder.remove());

deadLettersContract('local topic, marks in PGlite (embedded)', async () => {
  const messageLog = await LocalMessageLog.open({ dir: `${folder.dir}/log`, log, metrics: noMetrics });
  const db = await openPgliteStore(`${folder.dir}/pglite`, MIGRATIONS_DIR);
  return {
    dlt: new LocalDeadLetters(messageLog),
    source: new LocalDeadLetters(messageLog, 'chat.messages'),
    marks: new KyselyDeadLetterMarks(db.store.db),
    close: async () => {
      await messageLog.close();
      await db.close();
    },
  };
});

// The suite's own topics: app servers on the shared broker never see its records.
const brokers = readSetting('KAFKA_BROKERS');
const run = uniqueName('contract-dlt');
const topics = { messages: `${run}.messages`, dlt: `${run}.dlt` };
const kafka = createKafka(brokers, run, log);
const admin = kafka.admin();
await admin.connect();
await admin.createTopics({
  waitForLeaders: true,
  topics: [
    { topic: topics.messages, numPartitions: TOPIC_PARTITIONS[TOPICS.messages], replicationFactor: 1 },
    { topic: topics.dlt, numPartitions: TOPIC_PARTITIONS[TOPICS.deadLetter], replicationFactor: 1 },
  ],
});
afterAll(async () => {
  await admin.deleteTopics({ topics: Object.values(topics) }).catch(() => {});
  await admin.disconnect();
});

deadLettersContract('Kafka, marks in PostgreSQL (cluster, npm run dlt)', async () => {
  const store = new KyselyStore({ connectionString: readSetting('DATABASE_URL'), max: 2 });
  const dlt = new KafkaDeadLetters({ kafka, topic: topics.dlt, readerGroupPrefix: `${run}-reader` });
  const source = new KafkaDeadLetters({ kafka, topic: topics.messages, readerGroupPrefix: `${run}-reader` });
  return {
    dlt,
    source,
    marks: new KyselyDeadLetterMarks(store.db),
    close: async () => {
      await Promise.allSettled([dlt.close(), source.close()]);
      await store.close();
    },
  };
});
