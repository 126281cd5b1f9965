// Password hashing (scrypt) on dedicated worker threads, with a fair queue: requests are served round-robin
// by key (the account for logins, the address for signups), so a flood against one account or from one address
// waits behind itself instead of in front of everyone else, and libuv's shared thread pool is never saturated.
import { Worker } from 'node:worker_threads';
import { appError } from '../shared/errors.js';

// Plain JS (an eval worker): the same code runs under tsx in development and from dist/ in production.
const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const { scryptSync } = require('node:crypto');
parentPort.on('message', (m) => {
  try {
    const key = scryptSync(m.password, Buffer.from(m.salt, 'base64'), m.keylen, { N: m.N, r: m.r, p: m.p, maxmem: 64 * 1024 * 1024 });
    parentPort.postMessage({ id: m.id, key: key.toString('base64') });
  } catch (err) {
    parentPort.postMessage({ id: m.id, error: String(err && err.message || err) });
  }
});`;

export interface ScryptJob {
  password: string;
  salt: Buffer;
  keylen: number;
  N: number;
  r: number;
  p: number;
}

interface Queued {
  job: ScryptJob;
  resolve(key: Buffer): void;
  reject(err: unknown): void;
}

export class HashPool {
  private readonly idle: Worker[] = [];
  private readonly all: Worker[] = [];
  private readonly queues = new Map<string, Queued[]>();
  private queued = 0;
  private nextId = 0;
  private readonly running = new Map<number, { q: Queued; worker: Worker }>();

  constructor(
    size: number,
    private readonly limits = { perKey: 32, total: 2000 },
  ) {
    for (let i = 0; i < size; i++) this.spawn();
  }

  private spawn(): void {
    const worker = new Worker(WORKER_SOURCE, { eval: true });
    worker.unref();
    worker.on('message', (m: { id: number; key?: string; error?: string }) => {
      const entry = this.running.get(m.id);
      if (!entry) return;
      this.running.delete(m.id);
      if (m.error !== undefined) entry.q.reject(new Error(m.error));
      else entry.q.resolve(Buffer.from(m.key!, 'base64'));
      this.idle.push(worker);
      this.dispatch();
    });
    worker.on('error', () => {
      // A dead worker fails its job and is replaced.
      for (const [id, e] of this.running) if (e.worker === worker) (this.running.delete(id), e.q.reject(new Error('hash worker died')));
      this.all.splice(this.all.indexOf(worker), 1);
      const i = this.idle.indexOf(worker);
      if (i >= 0) this.idle.splice(i, 1);
      this.spawn();
      this.dispatch();
    });
    this.all.push(worker);
    this.idle.push(worker);
  }

  /** Queues a hash under `key`; rejects with rate-limited when that key (or the pool) has too much waiting. */
  hash(key: string, job: ScryptJob): Promise<Buffer> {
    const q = this.queues.get(key) ?? [];
    if (q.length >= this.limits.perKey) return Promise.reject(appError('rate-limited', 'too many requests for this account or address; retry later'));
    if (this.queued >= this.limits.total) return Promise.reject(appError('server-unavailable', 'too many logins in progress; retry later'));
    return new Promise<Buffer>((resolve, reject) => {
      q.push({ job, resolve, reject });
      this.queues.set(key, q);
      this.queued++;
      this.dispatch();
    });
  }

  /** Round-robin over keys: the first key's head, then the next key's… (a Map keeps insertion order). */
  private dispatch(): void {
    while (this.idle.length > 0 && this.queued > 0) {
      const [key, q] = this.queues.entries().next().value as [string, Queued[]];
      const item = q.shift()!;
      this.queues.delete(key);
      if (q.length > 0) this.queues.set(key, q); // to the back of the line
      this.queued--;
      const worker = this.idle.pop()!;
      const id = this.nextId++;
      this.running.set(id, { q: item, worker });
      worker.postMessage({ id, ...item.job, salt: item.job.salt.toString('base64') });
    }
  }

  async close(): Promise<void> {
    await Promise.all(this.all.map((w) => w.terminate()));
  }
}
