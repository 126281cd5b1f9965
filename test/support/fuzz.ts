// Deterministic randomness for fuzzing the server: a seeded PRNG, random bytes, and small mutations of a frame.

/** Deterministic PRNG (mulberry32). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function randomBytes(rand: () => number, n: number): Buffer {
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) b[i] = Math.floor(rand() * 256);
  return b;
}

/** Flips, inserts and deletes a few random bytes of `frame`. */
export function mutate(rand: () => number, frame: Buffer): Buffer {
  const bytes = [...frame];
  const edits = 1 + Math.floor(rand() * 4);
  for (let e = 0; e < edits; e++) {
    const op = Math.floor(rand() * 3);
    const at = Math.floor(rand() * (bytes.length + 1));
    if (op === 0 && bytes.length > 0) {
      const i = Math.min(at, bytes.length - 1);
      bytes[i] = bytes[i]! ^ (1 << Math.floor(rand() * 8));
    } else if (op === 1) {
      bytes.splice(at, 0, Math.floor(rand() * 256));
    } else if (bytes.length > 0) {
      bytes.splice(Math.min(at, bytes.length - 1), 1);
    }
  }
  return Buffer.from(bytes);
}
