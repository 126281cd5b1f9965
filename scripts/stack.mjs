#!/usr/bin/env node
// CLI over scripts/stack-lib.mjs: `node scripts/stack.mjs up|down|status` (npm run stack:up / stack:down).
//   up      make PostgreSQL (+ database, migrations), Redis and Kafka (+ topics) reachable; starts only what is
//           not already running; idempotent
//             --kafka-nodes 3        three replicated KRaft nodes (9092, 9094, 9096; topics at replication 3,
//                                    min.insync.replicas 2) instead of one; prints the KAFKA_BROKERS to use
//             --kafka-version V      the Kafka version to run (default 4.4.0; 3.9.1 is kept working); or KAFKA_VERSION
//   down    stop only what `up` started
//   status  print each service's state
// Honours DATABASE_URL, REDIS_URL, KAFKA_BROKERS and KAFKA_VERSION.
import { parseArgs } from 'node:util';
import { StackError, stackDown, stackStatus, stackUp } from './stack-lib.mjs';
import { kafkaLine, requestedKafkaVersion } from './stack/kafka-node.mjs';

const USAGE = 'usage: node scripts/stack.mjs up [--kafka-nodes 1|3] [--kafka-version X.Y.Z] | down | status';

function upOptions(args) {
  const { values } = parseArgs({ args, options: { 'kafka-nodes': { type: 'string', default: '1' }, 'kafka-version': { type: 'string' } } });
  const kafkaNodes = Number(values['kafka-nodes']);
  if (![1, 3].includes(kafkaNodes)) throw new StackError(`--kafka-nodes must be 1 or 3 (got ${values['kafka-nodes']})`);
  const kafkaVersion = values['kafka-version'] ? kafkaLine(values['kafka-version']).version : requestedKafkaVersion();
  return { kafkaNodes, kafkaVersion };
}

async function main([cmd, ...args]) {
  switch (cmd) {
    case 'up':
      await stackUp(upOptions(args));
      return 0;
    case 'down':
      await stackDown();
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
    if (err instanceof StackError) console.error(`[stack] ERROR: ${err.message}`);
    else if (err?.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' || err?.code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') console.error(`[stack] ERROR: ${err.message}\n${USAGE}`);
    else console.error('[stack] ERROR (unexpected):', err);
    process.exit(err?.code?.startsWith?.('ERR_PARSE_ARGS') ? 2 : 1);
  },
);
