#!/usr/bin/env node
// CLI over scripts/stack-lib.mjs: `node scripts/stack.mjs up|down|status` (npm run stack:up / stack:down).
//   up      make PostgreSQL (+ database, migrations), Redis and a single-node Kafka (+ topics) reachable;
//           starts only what is not already running; idempotent
//   down    stop only what `up` started
//   status  print each service's state
// Honours DATABASE_URL, REDIS_URL and KAFKA_BROKERS.
import { StackError, stackDown, stackStatus, stackUp } from './stack-lib.mjs';

const USAGE = 'usage: node scripts/stack.mjs up|down|status';

async function main(cmd) {
  switch (cmd) {
    case 'up':
      await stackUp();
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

main(process.argv[2]).then(
  (code) => process.exit(code),
  (err) => {
    if (err instanceof StackError) console.error(`[stack] ERROR: ${err.message}`);
    else console.error('[stack] ERROR (unexpected):', err);
    process.exit(1);
  },
);
