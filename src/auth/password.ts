// Password hashes: scrypt (memory-hard) computed on the hash pool, compared in constant time.
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { HashPool } from './hash-pool.js';

// N=2^14, r=8: 16 MiB per hash; ~40 ms on this class of machine. Stored with the hash, so it can grow later.
const PARAMS = { N: 16384, r: 8, p: 1, keylen: 32 } as const;

export class Passwords {
  /**
   * What an unknown account is verified against, so the answer time does not reveal it: the same parameters as a
   * real hash and a random salt and key (nothing can match it, and nothing needs hashing to make it).
   */
  private readonly dummy = `scrypt$${PARAMS.N}$${PARAMS.r}$${PARAMS.p}$${randomBytes(16).toString('base64')}$${randomBytes(PARAMS.keylen).toString('base64')}`;

  constructor(private readonly pool: HashPool) {}

  async hash(queueKey: string, password: string): Promise<string> {
    const salt = randomBytes(16);
    const key = await this.pool.hash(queueKey, { password, salt, ...PARAMS });
    return `scrypt$${PARAMS.N}$${PARAMS.r}$${PARAMS.p}$${salt.toString('base64')}$${key.toString('base64')}`;
  }

  /** Verifies `password` against `stored`, or against the dummy hash when `stored` is null (same work, same time). */
  async verify(queueKey: string, password: string, stored: string | null): Promise<boolean> {
    const target = stored ?? this.dummy;
    const [scheme, n, r, p, saltB64, keyB64] = target.split('$');
    if (scheme !== 'scrypt' || !n || !r || !p || !saltB64 || !keyB64) return false;
    const expected = Buffer.from(keyB64, 'base64');
    const actual = await this.pool.hash(queueKey, {
      password,
      salt: Buffer.from(saltB64, 'base64'),
      keylen: expected.length,
      N: Number(n),
      r: Number(r),
      p: Number(p),
    });
    return stored !== null && actual.length === expected.length && timingSafeEqual(actual, expected);
  }
}
