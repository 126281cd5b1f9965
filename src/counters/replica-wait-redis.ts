// WAIT for the replica after the writes a guarantee rests on. Redis replicates asynchronously: a primary that dies
// takes its newest writes with it, and Sentinel promotes the replica without them. A write the replica acknowledged
// (WAIT) survives that failover. One WAIT covers every write sent before it on the same connection, so the writes of
// one event-loop turn share one. A primary with no replica connected (after a failover, until the old primary is back
// as a replica) has no failover target to protect the writes for: then nothing waits (ROLE, asked every second).
import type { Redis } from 'ioredis';

export type ReplicaWaitOutcome = 'acked' | 'timeout' | 'failed';

export interface ReplicaWaitOptions {
  /** Replicas to wait for (0: never wait — a single Redis has none). */
  replicas: number;
  timeoutMs: number;
  /** Every WAIT's outcome and duration (metrics). */
  observe?(outcome: ReplicaWaitOutcome, seconds: number): void;
  /** How often the connected replicas are counted (ROLE); default 1000 ms. */
  pollMs?: number;
}

export class ReplicaWait {
  private issued = 0;
  private inFlight: { covers: number; done: Promise<boolean> } | null = null;
  /** Replicas connected to the primary, as ROLE last said (assumed present until it answers). */
  private connected: number;
  private polling = false;
  private readonly timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly redis: Pick<Redis, 'call'>,
    private readonly opts: ReplicaWaitOptions,
  ) {
    this.connected = opts.replicas;
    if (opts.replicas > 0) {
      this.timer = setInterval(() => void this.countReplicas(), opts.pollMs ?? 1000);
      this.timer.unref();
      void this.countReplicas();
    }
  }

  get enabled(): boolean {
    return this.opts.replicas > 0 && this.connected > 0;
  }

  private async countReplicas(): Promise<void> {
    if (this.polling) return;
    this.polling = true;
    try {
      const role = (await this.redis.call('ROLE')) as [string, unknown, unknown[]?];
      this.connected = role[0] === 'master' && Array.isArray(role[2]) ? role[2].length : 0;
    } catch {
      // Unknown (an outage): keep the last count.
    } finally {
      this.polling = false;
    }
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
  }

  /** Call right before sending a write on the connection; hand the number to `replicated`. */
  mark(): number {
    return ++this.issued;
  }

  /**
   * Resolves true once the write numbered `mark` reached the replicas, false when they did not acknowledge it
   * within the timeout (the write stands on the primary alone: the caller goes on, the metric counts it). Rejects
   * when the connection failed meanwhile (a failover under way: whether the write survived is unknown).
   */
  replicated(mark: number): Promise<boolean> {
    if (!this.enabled) return Promise.resolve(true);
    // A WAIT sent after this write covers it (Redis answers a connection's commands in order).
    if (this.inFlight && this.inFlight.covers >= mark) return this.inFlight.done;
    const covers = this.issued;
    const t0 = performance.now();
    const seconds = () => (performance.now() - t0) / 1000;
    const replicas = Math.min(this.opts.replicas, this.connected);
    const done = (this.redis.call('WAIT', replicas, this.opts.timeoutMs) as Promise<number>).then(
      (n) => {
        const acked = Number(n) >= replicas;
        this.opts.observe?.(acked ? 'acked' : 'timeout', seconds());
        // A replica that did not answer in time may be gone: count again now rather than in a second.
        if (!acked) void this.countReplicas();
        return acked;
      },
      (err: unknown) => {
        this.opts.observe?.('failed', seconds());
        throw err;
      },
    );
    const entry = { covers, done };
    this.inFlight = entry;
    const clear = () => {
      if (this.inFlight === entry) this.inFlight = null;
    };
    done.then(clear, clear);
    return done;
  }
}
