// isTransientError: what ioredis reports during a restart or a Sentinel failover is an outage (retry, 503), never a
// poison record (a broadcast batch dead-lettered because the Redis primary was being replaced).
import { describe, expect, it } from 'vitest';
import { isTransientError } from './failures.js';

describe('isTransientError', () => {
  it.each([
    'Command timed out',
    'Command aborted due to connection close',
    "READONLY You can't write against a read only replica.",
    'LOADING Redis is loading the dataset in memory',
    "MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.",
    'All sentinels are unreachable. Retrying from scratch after 100ms.',
    'Reached the max retries per request limit (which is 21). Refer to "maxRetriesPerRequest" option for details.',
    'Connection is closed.',
  ])('%s: an outage', (message) => {
    expect(isTransientError(new Error(message))).toBe(true);
    expect(isTransientError(new Error('publish failed', { cause: new Error(message) }))).toBe(true);
  });

  it.each([
    'ERR Error running script (call to f_x): @user_script:3: bad argument',
    'WRONGTYPE Operation against a key holding the wrong kind of value',
    'malformed record',
  ])('%s: not an outage', (message) => expect(isTransientError(new Error(message))).toBe(false));
});
