// Presence bookkeeping for this instance's sessions: online while any session lives anywhere.
import type { Logger } from 'pino';
import type { EventPublisher } from '../chat/ports.js';
import type { Presence } from '../counters/presence.js';
import type { Store } from '../store/store.js';
import type { Session } from './session.js';

export class PresenceTracker {
  private readonly sessions = new Set<Session>();
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly presence: Presence,
    private readonly store: Pick<Store, 'setUserStatus' | 'listRoomsForUser'>,
    private readonly events: EventPublisher,
    private readonly log: Logger,
    refreshMs = 10_000,
  ) {
    this.timer = setInterval(() => void this.refresh(), refreshMs);
    this.timer.unref();
  }

  get size(): number {
    return this.sessions.size;
  }

  all(): Iterable<Session> {
    return this.sessions;
  }

  opened(session: Session): void {
    this.sessions.add(session);
    const userId = session.user!.id;
    this.presence
      .sessionOpened(userId, session.id)
      .then((cameOnline) => (cameOnline ? this.announce(userId, 'ONLINE') : undefined))
      .catch((err: unknown) => this.log.warn({ err }, 'presence update failed'));
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
    await this.store.setUserStatus(userId, status, at);
    const rooms = await this.store.listRoomsForUser(userId);
    await Promise.allSettled(
      rooms.map((r) => this.events.roomEvent(r.id, 'presence', { userId, status, lastSeenAt: at.toISOString() })),
    );
  }

  private async refresh(): Promise<void> {
    try {
      await this.presence.refresh([...this.sessions].map((s) => [s.user!.id, s.id] as const));
    } catch (err) {
      this.log.warn({ err }, 'presence refresh failed');
    }
  }

  close(): void {
    clearInterval(this.timer);
  }
}
