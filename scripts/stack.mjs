#!/usr/bin/env node
// CLI over scripts/stack-lib.mjs: `node scripts/stack.mjs up|down|status` (npm run stack:up / stack:down).
//   up      make PostgreSQL (+ database, migrations), Redis and a single-node Kafka (+ topics) reachable;
//           starts only what is not already running; idempotent
//           --redis-sentinel: also a Redis primary, a replica and three sentinels (scripts/stack/redis-sentinel.mjs)
//   down    stop only what `up` started
//   status  print each service's state
// Honours DATABASE_URL, REDIS_URL and KAFKA_BROKERS.
import { parseArgs } from 'node:util';
import { StackError, stackDown, stackStatus, stackUp } from './stack-lib.mjs';
import { startRedisSentinel, stopRedisSentinel } from './stack/redis-sentinel.mjs';

const USAGE = 'usage: node scripts/stack.mjs up [--redis-sentinel] | down | status';

async function main(argv) {
  const { positionals, values } = parseArgs({ args: argv, allowPositionals: true, options: { 'redis-sentinel': { type: 'boolean', default: false } } });
  switch (positionals[0]) {
    case 'up': {
      await stackUp();
      if (values['redis-sentinel']) {
        const { env } = await startRedisSentinel();
        console.log(`[stack] the app with Redis Sentinel: ${Object.entries(env).map(([k, v]) => `${k}=${v}`).join(' ')}`);
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
    process.exit(1);
  },
);
