// A well-behaved client measured while others misbehave (hostile tests, the fuzzer): its round trips say whether
// the server kept serving everyone else.
import { setTimeout as sleep } from 'node:timers/promises';
import { RawConn } from './raw.js';
import { latencyStats, type LatencyStats } from './stats.js';

/**
 * A bystander: one session that, every `everyMs`, sends a chat message to its own room and waits for it to come
 * back as a MESSAGE (the whole pipeline: gateway, Kafka, broadcast consumer, Redis, gateway), and also sends a
 * `typing` event to one of its event rooms and waits for the relayed event (gateway, Redis, gateway: no Kafka, so
 * no consumer-group stalls caused by other processes). Typing is limited to one per room per second, so the
 * typing pings cycle over `typingRooms` (12 rooms at 100 ms: each room every 1.2 s).
 */
export class Bystander {
  /** Chat message round trips (ms). */
  readonly latencies: number[] = [];
  /** Typing event round trips (ms). */
  readonly typingLatencies: number[] = [];
  sent = 0;
  failures: string[] = [];
  private timer: NodeJS.Timeout | null = null;
  private readonly pending = new Map<string, number>();
  private readonly pendingTyping = new Map<string, number>();
  private readonly typingReturnedAt = new Map<string, number>();
  private n = 0;

  private constructor(
    readonly conn: RawConn,
    readonly roomId: string,
    readonly typingRooms: string[],
    readonly label: string,
  ) {}

  static async start(
    server: { tcpPort: number; wsUrl: string },
    token: string,
    roomId: string,
    typingRooms: string[],
    kind: 'tcp' | 'ws' = 'ws',
  ): Promise<Bystander> {
    const conn = await RawConn.open(kind, server);
    await conn.connect(token);
    const b = new Bystander(conn, roomId, typingRooms, kind);
    await conn.subscribe(`/topic/rooms.${roomId}`, 'bystander');
    for (const r of typingRooms) await conn.subscribe(`/topic/rooms.${r}.events`, `ev-${r}`);
    return b;
  }

  private check(): void {
    for (const f of this.conn.frames.splice(0)) {
      if (f.command === 'ERROR') this.failures.push(`ERROR ${f.headers.message}: ${f.text}`);
      if (f.command !== 'MESSAGE') continue;
      if (f.headers['event-type'] === 'typing') {
        const room = /^\/topic\/rooms\.(\d+)\.events$/.exec(f.headers.destination ?? '')?.[1];
        const t0 = room === undefined ? undefined : this.pendingTyping.get(room);
        if (t0 !== undefined) {
          this.pendingTyping.delete(room!);
          this.typingReturnedAt.set(room!, f.at);
          this.typingLatencies.push(f.at - t0);
        }
        continue;
      }
      const content = f.json?.content as string | undefined;
      const t0 = content === undefined ? undefined : this.pending.get(content);
      if (t0 !== undefined) {
        this.pending.delete(content!);
        this.latencies.push(f.at - t0);
      }
    }
  }

  run(everyMs = 100): void {
    this.timer = setInterval(() => {
      this.check();
      if (this.conn.isClosed) return;
      const now = Date.now();
      const content = `${this.label}-ping-${++this.n}`;
      this.pending.set(content, now);
      this.sent++;
      this.conn.send('SEND', { destination: `/topic/rooms.${this.roomId}`, 'content-type': 'text/plain' }, content);
      const room = this.typingRooms[this.n % this.typingRooms.length]!;
      // One outstanding typing ping per room, sent at least 1 s after the previous one came back: the server
      // handled that one before it came back, so it cannot drop this one as a repeat within its 1 s limit.
      if (!this.pendingTyping.has(room) && now - (this.typingReturnedAt.get(room) ?? 0) >= 1000) {
        this.pendingTyping.set(room, now);
        this.conn.send('SEND', { destination: `/topic/rooms.${room}.events` }, 'typing');
      }
    }, everyMs);
  }

  /** Stops pinging and waits (bounded) for outstanding round trips; pings never answered count as 10 s. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    const deadline = Date.now() + 10_000;
    while ((this.pending.size > 0 || this.pendingTyping.size > 0) && Date.now() < deadline && !this.conn.isClosed) {
      await sleep(20);
      this.check();
    }
    for (const _ of this.pending.values()) this.latencies.push(10_000);
    for (const _ of this.pendingTyping.values()) this.typingLatencies.push(10_000);
    this.pending.clear();
    this.pendingTyping.clear();
  }

  stats(): { message: LatencyStats; typing: LatencyStats } {
    return { message: latencyStats(this.latencies), typing: latencyStats(this.typingLatencies) };
  }

  reset(): void {
    this.latencies.length = 0;
    this.typingLatencies.length = 0;
  }
}
