// The persist group's shared INSERT: batches handed over in one turn share a statement; a batch that cannot be
// stored fails alone.
import { describe, expect, it } from 'vitest';
import type { ChatMessage } from '../shared/model.js';
import { SharedInsert } from './persist.js';

const msg = (roomId: string, seq: number) => ({ id: `${roomId}-${seq}`, roomId, seq: String(seq) }) as ChatMessage;

/** An insert that records each statement's rows and refuses any statement holding a message of room 'bad'. */
function recordingStore() {
  const statements: string[][] = [];
  const insertRows = async (messages: readonly ChatMessage[]) => {
    statements.push(messages.map((m) => m.id));
    if (messages.some((m) => m.roomId === 'bad')) throw Object.assign(new Error('foreign key'), { code: '23503' });
    return messages.length;
  };
  return { statements, shared: new SharedInsert(insertRows) };
}

describe('SharedInsert', () => {
  it('stores the batches of one turn with one statement; the first call counts every row', async () => {
    const { statements, shared } = recordingStore();
    const counts = await Promise.all([shared.insert([msg('1', 1), msg('1', 2)]), shared.insert([msg('2', 1)]), shared.insert([msg('3', 1)])]);
    expect(statements).toEqual([['1-1', '1-2', '2-1', '3-1']]);
    expect(counts).toEqual([4, 0, 0]);
    // A later turn: a statement of its own.
    expect(await shared.insert([msg('4', 1)])).toBe(1);
    expect(statements).toHaveLength(2);
  });

  it('when the shared statement fails, each batch is stored on its own: only the bad one fails', async () => {
    const { statements, shared } = recordingStore();
    const results = await Promise.allSettled([shared.insert([msg('1', 1)]), shared.insert([msg('bad', 1)]), shared.insert([msg('3', 1)])]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect((results[1] as PromiseRejectedResult).reason.code).toBe('23503');
    expect(results.filter((r) => r.status === 'fulfilled').map((r) => (r as PromiseFulfilledResult<number>).value)).toEqual([1, 1]);
    expect(statements).toEqual([['1-1', 'bad-1', '3-1'], ['1-1'], ['bad-1'], ['3-1']]);
  });

  it('a batch alone in its turn that fails is not tried a second time', async () => {
    const { statements, shared } = recordingStore();
    await expect(shared.insert([msg('bad', 1)])).rejects.toThrow('foreign key');
    expect(statements).toEqual([['bad-1']]);
  });
});
