import { describe, expect, it } from 'vitest';
import { TurnBatch } from './turn-batch.js';

describe('TurnBatch', () => {
  it('joins the calls of one turn, at most `max` per batch, and starts a new batch in a later turn', async () => {
    const flushed: number[][] = [];
    const batch = new TurnBatch<number, number[]>(async (items) => (flushed.push([...items]), items.map((n) => n * 10)), 3);
    const joined = [1, 2, 3, 4].map((n) => batch.join(n));
    expect(joined.map((j) => j.index)).toEqual([0, 1, 2, 0]);
    expect(flushed).toEqual([]);
    const answers = await Promise.all(joined.map(async (j) => (await j.result)[j.index]));
    expect(answers).toEqual([10, 20, 30, 40]);
    expect(flushed).toEqual([[1, 2, 3], [4]]);
    const later = batch.join(5);
    expect(later.index).toBe(0);
    expect((await later.result)[0]).toBe(50);
    expect(flushed).toEqual([[1, 2, 3], [4], [5]]);
  });

  it('gives every caller of a batch its failure', async () => {
    const batch = new TurnBatch<number, number>(async () => Promise.reject(new Error('down')));
    const [a, b] = [batch.join(1), batch.join(2)];
    expect(a.items).toBe(b.items);
    await expect(a.result).rejects.toThrow('down');
    await expect(b.result).rejects.toThrow('down');
  });
});
