import { afterEach, describe, expect, it, vi } from 'vitest';
import { OffsetCommitter, type CommitOffset, type OffsetCommitterOptions } from './offset-committer.js';

/** A coordinator whose answers the test gives: every request waits until `answer()` settles it. */
function coordinator() {
  const requests: Array<{ offsets: CommitOffset[]; settle(err?: unknown): void }> = [];
  const commit = (offsets: CommitOffset[]) =>
    new Promise<void>((resolve, reject) => requests.push({ offsets, settle: (err?: unknown) => (err ? reject(err) : resolve()) }));
  return { requests, commit, answer: (i: number, err?: unknown) => requests[i]!.settle(err) };
}

function committer(c: ReturnType<typeof coordinator>, opts: Partial<OffsetCommitterOptions> = {}) {
  const committed: CommitOffset[][] = [];
  const failed: unknown[] = [];
  const oc = new OffsetCommitter({
    everyMs: 200,
    commit: c.commit,
    onCommitted: (offsets) => committed.push([...offsets]),
    onFailed: (err) => (failed.push(err), 'retry'),
    ...opts,
  });
  return { oc, committed, failed };
}

const at = (partition: number, offset: number, topic = 't') => ({ topic, partition, offset: String(offset) });

afterEach(() => vi.useRealTimers());

describe('OffsetCommitter', () => {
  it('commits nothing before a batch is done, then every partition done within the period in one request, newest offset each', async () => {
    vi.useFakeTimers();
    const c = coordinator();
    const { oc, committed } = committer(c);
    await vi.advanceTimersByTimeAsync(1000);
    expect(c.requests).toHaveLength(0);
    oc.done('t', 0, '5');
    oc.done('t', 1, '3');
    oc.done('t', 0, '9');
    oc.done('t', 0, '7'); // a redelivered, older batch done again never moves the offset back
    await vi.advanceTimersByTimeAsync(199);
    expect(c.requests).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(1);
    expect(c.requests.map((r) => r.offsets)).toEqual([[at(0, 9), at(1, 3)]]);
    c.answer(0);
    await vi.advanceTimersByTimeAsync(0);
    expect(committed).toEqual([[at(0, 9), at(1, 3)]]);
    await vi.advanceTimersByTimeAsync(1000);
    expect(c.requests).toHaveLength(1);
  });

  it('one request at a time: what is done during a request goes in the next, after it settled', async () => {
    vi.useFakeTimers();
    const c = coordinator();
    const { oc } = committer(c);
    oc.done('t', 0, '5');
    await vi.advanceTimersByTimeAsync(200);
    oc.done('t', 0, '8');
    void oc.flush();
    await vi.advanceTimersByTimeAsync(1000);
    expect(c.requests).toHaveLength(1);
    c.answer(0);
    await vi.advanceTimersByTimeAsync(0);
    expect(c.requests.map((r) => r.offsets)).toEqual([[at(0, 5)], [at(0, 8)]]);
  });

  it('a refused request is retried with the next one unless the partitions were lost; a newer offset wins', async () => {
    vi.useFakeTimers();
    const c = coordinator();
    const lost = new Error('rebalance');
    const { oc, failed, committed } = committer(c, { onFailed: (err) => (err === lost ? 'drop' : 'retry') });
    oc.done('t', 0, '5');
    oc.done('t', 1, '2');
    await vi.advanceTimersByTimeAsync(200);
    oc.done('t', 1, '4');
    c.answer(0, new Error('not the coordinator'));
    await vi.advanceTimersByTimeAsync(200);
    expect(c.requests[1]!.offsets).toEqual([at(1, 4), at(0, 5)]);
    c.answer(1, lost);
    await vi.advanceTimersByTimeAsync(1000);
    expect(c.requests).toHaveLength(2);
    expect(committed).toEqual([]);
    expect(failed).toEqual([]);
  });

  it('keepOnly forgets partitions given up in a rebalance', async () => {
    vi.useFakeTimers();
    const c = coordinator();
    const { oc } = committer(c);
    oc.done('t', 0, '5');
    oc.done('t', 1, '6');
    oc.keepOnly((_, partition) => partition === 1);
    await vi.advanceTimersByTimeAsync(200);
    expect(c.requests.map((r) => r.offsets)).toEqual([[at(1, 6)]]);
  });

  it('close commits what is done at once, ignores later batches, and does not wait past its bound', async () => {
    vi.useFakeTimers();
    const c = coordinator();
    const { oc } = committer(c);
    oc.done('t', 0, '5');
    let closed = false;
    void oc.close(3000).then(() => (closed = true));
    await vi.advanceTimersByTimeAsync(0);
    expect(c.requests.map((r) => r.offsets)).toEqual([[at(0, 5)]]);
    oc.done('t', 0, '9');
    await vi.advanceTimersByTimeAsync(2999);
    expect(closed).toBe(false); // the coordinator has not answered
    await vi.advanceTimersByTimeAsync(1);
    expect(closed).toBe(true);
    c.answer(0, new Error('not the coordinator'));
    await vi.advanceTimersByTimeAsync(1000);
    expect(c.requests).toHaveLength(1);
    expect(oc.size).toBe(0);
  });
});
