#!/usr/bin/env node
// CLI over scripts/stack-lib.mjs: `node scripts/stack.mjs up|down|status` (npm run stack:up / stack:down).
//   up      make PostgreSQL (+ database, migrations), Redis and Kafka (+ topics) reachable; starts only what is
//           not already running; idempotent
//             --kafka-nodes 3        three replicated KRaft nodes (9092, 9094, 9096; topics at replication 3,
//                                    min.insync.replicas 2) instead of one; prints the KAFKA_BROKERS to use
//             --kafka-version V      the Kafka version to run (default 4.4.0; 3.9.1 is kept working); or KAFKA_VERSION
//             --redis-sentinel       also a Redis primary, a replica and three sentinels (scripts/stack/redis-sentinel.mjs)
//   down    stop only what `up` started
//   status  print each service's state
// Honours DATABASE_URL, REDIS_URL, KAFKA_BROKERS and KAFKA_VERSION.
import { parseArgs } from 'node:util';
import { StackError, stackDown, stackStatus, stackUp } from './stack-lib.mjs';
import { kafkaLine, requestedKafkaVersion } from './stack/kafka-node.mjs';
import { startRedisSentinel, stopRedisSentinel } from './stack/redis-sentinel.mjs';

const USAGE = 'usage: node scripts/stack.mjs up [--kafka-nodes 1|3] [--kafka-version X.Y.Z] [--redis-sentinel] | down | status';

const OPTIONS = {
  'kafka-nodes': { type: 'string', default: '1' },
  'kafka-version': { type: 'string' },
  'redis-sentinel': { type: 'boolean', default: false },
};

function upOptions(values) {
  const kafkaNodes = Number(values['kafka-nodes']);
  if (![1, 3].includes(kafkaNodes)) throw new StackError(`--kafka-nodes must be 1 or 3 (got ${values['kafka-nodes']})`);
  const kafkaVersion = values['kafka-version'] ? kafkaLine(values['kafka-version']).version : requestedKafkaVersion();
  return { kafkaNodes, kafkaVersion };
}

async function main(argv) {
  const { positionals, values } = parseArgs({ args: argv, allowPositionals: true, options: OPTIONS });
  switch (positionals[0]) {
    case 'up': {
      await stackUp(upOptions(values));
      if (values['redis-sentinel']) {
        const { env } = await startRedisSentinel();
        console.log(
          `[stack] the app with Redis Sentinel: ${Object.entries(env)
            .map(([k, v]) => `${k}=${v}`)
            .join(' ')}`,
        );
      }
      return 0;
    }
    case 'down':
      await stackDown();
      await stopRedisSentinel();
      return 0;
    case 'status': {
      const s = await stackStatus();
      return Object.values(s).every((x) => x.up) ? 0 : 3;
    }
    default:
      console.error(USAGE);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err) => {
    if (err instanceof StackError || err?.code?.startsWith?.('ERR_PARSE_ARGS')) console.error(`[stack] ERROR: ${err.message}\n${USAGE}`);
    else console.error('[stack] ERROR (unexpected):', err);
    process.exit(err?.code?.startsWith?.('ERR_PARSE_ARGS') ? 2 : 1);
  },
);
