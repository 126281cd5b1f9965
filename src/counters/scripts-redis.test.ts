import { describe, expect, it } from 'vitest';
import { perChunk } from './scripts-redis.js';

describe('perChunk', () => {
  it('makes one call per chunk of at most `size` items, all at once, and answers in chunk order', async () => {
    const started: number[][] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const answers = perChunk(
      Array.from({ length: 600 }, (_, i) => i),
      256,
      async (chunk) => {
        started.push(chunk);
        await gate;
        return chunk.length;
      },
    );
    expect(started.map((c) => [c[0], c.length])).toEqual([
      [0, 256],
      [256, 256],
      [512, 88],
    ]);
    release();
    expect(await answers).toEqual([256, 256, 88]);
    expect(await perChunk([], 256, async () => 1)).toEqual([]);
  });

  it('fails when any call fails', async () => {
    await expect(perChunk([1, 2, 3], 2, async (chunk) => (chunk[0] === 3 ? Promise.reject(new Error('down')) : 1))).rejects.toThrow('down');
  });
});
