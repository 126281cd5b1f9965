// Presence bookkeeping for this instance's sessions: online while any session lives anywhere.
import type { Logger } from 'pino';
import type { EventPublisher } from '../chat/ports.js';
import type { Presence } from '../counters/presence.js';
import type { Store } from '../store/store.js';
import type { Session } from './session.js';

export class PresenceTracker {
  private readonly sessions = new Set<Session>();
  private readonly timer: NodeJS.Timeout;
  private readonly sweeper: NodeJS.Timeout;

  /**
   * Sessions are refreshed every ttl/3; every ttl/2 the sweeper turns users whose sessions all
   * expired (their instance died without saying goodbye) OFFLINE, so nobody stays online longer
   * than about 1.5 x ttl after their last instance vanished.
   */
  constructor(
    private readonly presence: Presence,
    private readonly store: Pick<Store, 'setUserStatus' | 'roomIdsOfUser' | 'onlineUserIds'>,
    private readonly events: EventPublisher,
    private readonly log: Logger,
    ttlMs: number,
    /** Returns true for the one instance allowed to sweep in this period (a Redis lock). */
    private readonly sweepLock: () => Promise<boolean>,
  ) {
    this.timer = setInterval(() => void this.refresh(), Math.max(250, Math.floor(ttlMs / 3)));
    this.timer.unref();
    this.sweeper = setInterval(() => void this.sweep(), Math.max(500, Math.floor(ttlMs / 2)));
    this.sweeper.unref();
  }

  get size(): number {
    return this.sessions.size;
  }

  all(): Iterable<Session> {
    return this.sessions;
  }

  /** Resolves once the session is registered (before CONNECTED goes out, so a close that follows sees it). */
  async opened(session: Session): Promise<void> {
    this.sessions.add(session);
    const userId = session.user!.id;
    try {
      if (await this.presence.sessionOpened(userId, session.id)) {
        this.announce(userId, 'ONLINE').catch((err: unknown) => this.log.warn({ err }, 'presence announce failed'));
      }
    } catch (err) {
      this.log.warn({ err }, 'presence update failed');
    }
  }

  closed(session: Session): void {
    this.sessions.delete(session);
    const userId = session.user!.id;
    this.presence
      .sessionClosed(userId, session.id)
      .then((wentOffline) => (wentOffline ? this.announce(userId, 'OFFLINE') : undefined))
      .catch((err: unknown) => this.log.warn({ err }, 'presence update failed'));
  }

  /** Records the change and tells every room the user is in. */
  async announce(userId: string, status: 'ONLINE' | 'OFFLINE'): Promise<void> {
    const at = new Date();
    // Only the writer that changed the status tells the rooms: the sweeper, a close and another
    // instance may all conclude "offline" at once.
    if (!(await this.store.setUserStatus(userId, status, at))) return;
    const rooms = await this.store.roomIdsOfUser(userId);
    await Promise.allSettled(rooms.map((id) => this.events.roomEvent(id, 'presence', { userId, status, lastSeenAt: at.toISOString() })));
  }

  private async refresh(): Promise<void> {
    try {
      await this.presence.refresh([...this.sessions].map((s) => [s.user!.id, s.id] as const));
    } catch (err) {
      this.log.warn({ err }, 'presence refresh failed');
    }
  }

  private async sweep(): Promise<void> {
    try {
      if (!(await this.sweepLock())) return;
      const candidates = await this.store.onlineUserIds(1000);
      if (candidates.length === 0) return;
      const live = await this.presence.onlineUsers(candidates);
      for (const userId of candidates) {
        if (!live.has(userId)) await this.announce(userId, 'OFFLINE');
      }
    } catch (err) {
      this.log.warn({ err }, 'presence sweep failed');
    }
  }

  close(): void {
    clearInterval(this.timer);
    clearInterval(this.sweeper);
  }
}
