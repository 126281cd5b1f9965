// The Redis Sentinel set the tests start and stop themselves (scripts/stack/redis-sentinel.mjs), on ports of the range
// reserved for them; the stack's own `--redis-sentinel` set uses 6390/6391 and 26390-26392. Test files run one at a
// time, so they share it.
import { ROOT } from './cluster.js';

export const TEST_SENTINEL_SET = {
  dir: `${ROOT}.stack/redis-sentinel-test`,
  primaryPort: 6395,
  replicaPort: 6396,
  sentinelPorts: [26395, 26396, 26397],
};
