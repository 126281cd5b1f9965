// runBatch, the consumer groups' shared retry logic, with plain functions: outages are retried without end,
// poison records are isolated by bisection and dead-lettered after maxAttempts, the rest of the batch goes on in
// order, and a batch that is no longer ours is given up without dead-lettering anything.
import { describe, expect, it } from 'vitest';
import { DLT_HEADERS } from './dead-letter.js';
import { runBatch, type RunnerOptions } from './consumer-runner.js';
import type { ConsumedRecord } from './message-log.js';

const records = (n: number): ConsumedRecord[] =>
  Array.from({ length: n }, (_, i) => ({ topic: 't', partition: 2, offset: String(100 + i), key: 'k', value: Buffer.from(`v${i}`), headers: { h: 'x' } }));

const transientError = () => Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
const always = { beat: async () => {}, alive: () => true };
const noSleep = { sleep: async () => {} };

describe('runBatch', () => {
  it('handles a healthy batch with one handler call', async () => {
    const calls: string[][] = [];
    const ok = await runBatch(records(5), { groupId: 'g', handler: async (r) => void calls.push(r.map((x) => x.offset)), ...noSleep }, always);
    expect(ok).toBe(true);
    expect(calls).toEqual([['100', '101', '102', '103', '104']]);
  });

  it('retries an outage without end (and without dead-lettering), then succeeds', async () => {
    let failures = 10;
    const dead: ConsumedRecord[] = [];
    const transient: number[] = [];
    const ok = await runBatch(
      records(3),
      {
        groupId: 'g',
        handler: async () => {
          if (failures-- > 0) throw transientError();
        },
        deadLetter: async (r) => void dead.push(r),
        onTransientFailure: (_e, attempt) => transient.push(attempt),
        ...noSleep,
      },
      always,
    );
    expect(ok).toBe(true);
    expect(dead).toEqual([]);
    expect(transient).toHaveLength(10);
  });

  it('isolates one poison record by bisection: it is dead-lettered after maxAttempts with its coordinates, the others are handled in order', async () => {
    const handled: string[] = [];
    const dead: Array<{ offset: string; headers: Record<string, string> }> = [];
    const opts: RunnerOptions = {
      groupId: 'chat-persist',
      maxAttempts: 3,
      handler: async (batch) => {
        if (batch.some((r) => r.offset === '105')) throw new Error('poison at 105');
        handled.push(...batch.map((r) => r.offset));
      },
      deadLetter: async (r, headers) => void dead.push({ offset: r.offset, headers }),
      ...noSleep,
    };
    const ok = await runBatch(records(8), opts, always);
    expect(ok).toBe(true);
    expect(handled).toEqual(['100', '101', '102', '103', '104', '106', '107']);
    expect(dead).toHaveLength(1);
    expect(dead[0]!.offset).toBe('105');
    expect(dead[0]!.headers).toMatchObject({
      h: 'x',
      [DLT_HEADERS.error]: 'poison at 105',
      [DLT_HEADERS.attempts]: '3',
      [DLT_HEADERS.group]: 'chat-persist',
      [DLT_HEADERS.sourceTopic]: 't',
      [DLT_HEADERS.sourcePartition]: '2',
      [DLT_HEADERS.sourceOffset]: '105',
    });
  });

  it('a single poison record is tried exactly maxAttempts times', async () => {
    let calls = 0;
    await runBatch(
      records(1),
      {
        groupId: 'g',
        maxAttempts: 3,
        handler: async () =>
          void (
            calls++,
            (() => {
              throw new Error('bad');
            })()
          ),
        deadLetter: async () => {},
        ...noSleep,
      },
      always,
    );
    expect(calls).toBe(3);
  });

  it('a poison record (PoisonRecordError) still gets its attempts, but without backoff waits; other failures wait', async () => {
    const slept: number[] = [];
    const poison = Object.assign(new Error('not JSON'), { name: 'PoisonRecordError' });
    await runBatch(
      records(1),
      {
        groupId: 'g',
        maxAttempts: 3,
        handler: async () => {
          throw poison;
        },
        deadLetter: async () => {},
        sleep: async (ms) => void slept.push(ms),
      },
      always,
    );
    expect(slept).toEqual([]);
    await runBatch(
      records(1),
      {
        groupId: 'g',
        maxAttempts: 3,
        backoffMs: 10,
        handler: async () => {
          throw new Error('bug');
        },
        deadLetter: async () => {},
        sleep: async (ms) => void slept.push(ms),
      },
      always,
    );
    expect(slept).toEqual([10, 20]);
  });

  it('without a dead-letter sink, the poison record fails the batch (the partition stalls rather than losing it)', async () => {
    await expect(
      runBatch(
        records(2),
        {
          groupId: 'g',
          maxAttempts: 2,
          handler: async () => {
            throw new Error('bad');
          },
          ...noSleep,
        },
        always,
      ),
    ).rejects.toThrow('bad');
  });

  it('gives the batch up (false, nothing dead-lettered) once it is no longer ours', async () => {
    let alive = true;
    const dead: ConsumedRecord[] = [];
    const ok = await runBatch(
      records(4),
      {
        groupId: 'g',
        handler: async () => {
          alive = false; // e.g. a rebalance took the partition meanwhile
          throw new Error('failed while being revoked');
        },
        deadLetter: async (r) => void dead.push(r),
        ...noSleep,
      },
      { beat: async () => {}, alive: () => alive },
    );
    expect(ok).toBe(false);
    expect(dead).toEqual([]);
  });
});
