// Presence in memory (embedded mode): per user, each session's expiry time — the Redis adapter's sorted set as a
// Map. Same rules: a session counts until `ttlMs` after it was opened or last refreshed.
import type { Presence } from './presence.js';
import type { Clock } from './ttl-map-memory.js';

export class MemoryPresence implements Presence {
  /** userId -> sessionId -> expiry (ms). */
  private readonly users = new Map<string, Map<string, number>>();
  private ops = 0;

  constructor(
    private readonly ttlMs = 30_000,
    private readonly now: Clock = Date.now,
  ) {}

  /** The user's live sessions, after dropping the expired ones (every operation starts with this, as the Lua does). */
  private live(userId: string, now: number): Map<string, number> | undefined {
    const sessions = this.users.get(userId);
    if (!sessions) return undefined;
    for (const [id, expiry] of sessions) if (expiry <= now) sessions.delete(id);
    if (sessions.size === 0) {
      this.users.delete(userId);
      return undefined;
    }
    return sessions;
  }

  async sessionOpened(userId: string, sessionId: string): Promise<boolean> {
    const now = this.now();
    this.maintain(now);
    let sessions = this.live(userId, now);
    const before = sessions?.size ?? 0;
    if (!sessions) this.users.set(userId, (sessions = new Map()));
    sessions.set(sessionId, now + this.ttlMs);
    return before === 0;
  }

  async sessionClosed(userId: string, sessionId: string): Promise<boolean> {
    const sessions = this.live(userId, this.now());
    if (!sessions?.delete(sessionId)) return false;
    if (sessions.size > 0) return false;
    this.users.delete(userId);
    return true;
  }

  async refresh(sessions: ReadonlyArray<readonly [string, string]>): Promise<void> {
    const now = this.now();
    this.maintain(now);
    const expiry = now + this.ttlMs;
    // Like ZADD: a refresh registers the session even when it had expired meanwhile.
    for (const [userId, sessionId] of sessions) {
      let map = this.users.get(userId);
      if (!map) this.users.set(userId, (map = new Map()));
      map.set(sessionId, expiry);
    }
  }

  async onlineUsers(userIds: readonly string[]): Promise<Set<string>> {
    const now = this.now();
    const out = new Set<string>();
    for (const id of userIds) {
      const sessions = this.users.get(id);
      if (!sessions) continue;
      for (const expiry of sessions.values()) {
        if (expiry > now) {
          out.add(id);
          break;
        }
      }
    }
    return out;
  }

  /** Users whose sessions all expired (a killed client never closes) are dropped in an amortised sweep. */
  private maintain(now: number): void {
    if (++this.ops % 1024 !== 0) return;
    for (const userId of [...this.users.keys()]) this.live(userId, now);
  }
}
