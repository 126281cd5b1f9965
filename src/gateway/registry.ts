// This instance's live sessions and the presence they make: a user is online while any session lives anywhere.
// Registration is synchronous (a session that closes right after CONNECT is unregistered, never left behind);
// the Redis side of a session's presence is a per-session chain, so "closed" can never overtake "opened".
import type { Logger } from 'pino';
import type { FanoutBus } from '../fanout/fanout.js';
import type { Leases } from '../counters/leases.js';
import type { Presence } from '../counters/presence.js';
import type { Store } from '../store/store.js';
import { Semaphore } from './semaphore.js';

export interface RegisteredSession {
  readonly id: string;
  readonly user: { id: string } | null;
  shutdown(): void;
}

export interface RegistryDeps {
  presence: Presence;
  store: Pick<Store, 'setUserStatus' | 'roomIdsOfUser' | 'onlineUserIds' | 'offlineUserIds'>;
  bus: Pick<FanoutBus, 'publishPresence'>;
  leases: Leases;
  instanceId: string;
  log: Logger;
  ttlMs: number;
  /** A user whose last session closed is announced OFFLINE only if still offline after this (flapping costs nothing). */
  offlineGraceMs?: number;
  /** Concurrent catch-ups per user on this instance. */
  replaysPerUser: number;
}

export class SessionRegistry {
  private readonly sessions = new Map<string, RegisteredSession>();
  /** A session's "opened" presence update while it is in flight ("closed" waits for it); gone once it settled. */
  private readonly opening = new Map<string, Promise<unknown>>();
  private readonly replaySlots = new Map<string, Semaphore>();
  private readonly offlineChecks = new Map<string, NodeJS.Timeout>();
  private readonly refreshTimer: NodeJS.Timeout;
  private readonly sweepTimer: NodeJS.Timeout;

  /**
   * Sessions are refreshed every ttl/3; every ttl/2 one instance (a lease) turns users whose sessions all expired
   * (their instance died without saying goodbye) OFFLINE, so nobody stays online longer than ~1.5 x ttl after
   * their last instance vanished.
   */
  constructor(private readonly deps: RegistryDeps) {
    this.refreshTimer = setInterval(() => void this.refresh(), Math.max(250, Math.floor(deps.ttlMs / 3)));
    this.refreshTimer.unref();
    this.sweepTimer = setInterval(() => void this.sweep(), Math.max(500, Math.floor(deps.ttlMs / 2)));
    this.sweepTimer.unref();
  }

  get size(): number {
    return this.sessions.size;
  }

  all(): RegisteredSession[] {
    return [...this.sessions.values()];
  }

  userReplaySlots(userId: string): Semaphore {
    let s = this.replaySlots.get(userId);
    if (!s) {
      // Forget idle semaphores rather than keep one per user ever seen.
      if (this.replaySlots.size >= 10_000) for (const [u, sem] of this.replaySlots) if (!sem.busy) this.replaySlots.delete(u);
      s = new Semaphore(this.deps.replaysPerUser);
      this.replaySlots.set(userId, s);
    }
    return s;
  }

  opened(session: RegisteredSession): void {
    const userId = session.user!.id;
    const pendingOffline = this.offlineChecks.get(userId);
    if (pendingOffline) {
      clearTimeout(pendingOffline);
      this.offlineChecks.delete(userId);
    }
    const presence = this.deps.presence
      .sessionOpened(userId, session.id)
      .then((wentOnline) => (wentOnline ? this.announce(userId, 'ONLINE') : undefined))
      .catch((err: unknown) => this.deps.log.warn({ err }, 'presence update failed'));
    this.sessions.set(session.id, session);
    this.opening.set(session.id, presence);
    void presence.then(() => {
      if (this.opening.get(session.id) === presence) this.opening.delete(session.id);
    });
  }

  closed(session: RegisteredSession): void {
    if (!this.sessions.delete(session.id)) return;
    const opening = this.opening.get(session.id);
    this.opening.delete(session.id);
    const userId = session.user!.id;
    void (opening ?? Promise.resolve())
      .then(() => this.deps.presence.sessionClosed(userId, session.id))
      .then((wentOffline) => wentOffline && this.scheduleOfflineCheck(userId))
      .catch((err: unknown) => this.deps.log.warn({ err }, 'presence update failed'));
  }

  private scheduleOfflineCheck(userId: string): void {
    if (this.offlineChecks.has(userId)) return;
    // offlineCheck handles its own failures (it logs them): nothing is left for the timer to catch.
    const timer = setTimeout(() => void this.offlineCheck(userId), this.deps.offlineGraceMs ?? 1500);
    timer.unref();
    this.offlineChecks.set(userId, timer);
  }

  private async offlineCheck(userId: string): Promise<void> {
    this.offlineChecks.delete(userId);
    try {
      if (!(await this.deps.presence.onlineUsers([userId])).has(userId)) await this.announce(userId, 'OFFLINE');
    } catch (err) {
      this.deps.log.warn({ err }, 'presence update failed');
    }
  }

  /**
   * Records a status change and tells every room the user is in, with ONE bus message. Only the writer that
   * changed the stored status announces: the sweeper, a close and another instance may all conclude "offline".
   */
  async announce(userId: string, status: 'ONLINE' | 'OFFLINE'): Promise<void> {
    const at = new Date();
    if (!(await this.deps.store.setUserStatus(userId, status, at))) return;
    const roomIds = await this.deps.store.roomIdsOfUser(userId);
    if (roomIds.length > 0) await this.deps.bus.publishPresence({ userId, status, lastSeenAt: at.toISOString(), roomIds });
  }

  /**
   * Also turns this instance's connected users back ONLINE where the stored status says OFFLINE: a sweep that read
   * Redis while it was failing over, or that raced this refresh re-registering sessions Redis had lost, may have
   * announced them OFFLINE; nothing else would undo it while they stay connected.
   */
  private async refresh(): Promise<void> {
    if (this.sessions.size === 0) return;
    try {
      const local = [...this.sessions.values()].map((session) => [session.user!.id, session.id] as const);
      await this.deps.presence.refresh(local);
      const users = [...new Set(local.map(([userId]) => userId))];
      for (let i = 0; i < users.length; i += 5000) {
        const offline = await this.deps.store.offlineUserIds(users.slice(i, i + 5000));
        if (offline.length === 0) continue;
        // Only those still connected here (a last session may have closed meanwhile: its OFFLINE stands).
        const connected = new Set([...this.sessions.values()].map((session) => session.user!.id));
        await this.announceOnline(offline.filter((u) => connected.has(u)));
      }
    } catch (err) {
      this.deps.log.warn({ err }, 'presence refresh failed');
    }
  }

  /** A status write per user (a no-op where it is ONLINE already), 50 at a time. */
  private async announceOnline(userIds: readonly string[]): Promise<void> {
    for (let i = 0; i < userIds.length; i += 50) {
      await Promise.all(
        userIds.slice(i, i + 50).map((u) => this.announce(u, 'ONLINE').catch((err: unknown) => this.deps.log.warn({ err }, 'presence update failed'))),
      );
    }
  }

  private async sweep(): Promise<void> {
    try {
      // The lease only keeps instances from sweeping at the same moment: a swept user is OFFLINE and no longer a
      // candidate, so a short lease suffices whatever each instance's sweep period is.
      if (!(await this.deps.leases.acquire('presence-sweeper', this.deps.instanceId, 400))) return;
      const candidates = await this.deps.store.onlineUserIds(1000);
      if (candidates.length === 0) return;
      const live = await this.deps.presence.onlineUsers(candidates);
      for (const userId of candidates) if (!live.has(userId)) await this.announce(userId, 'OFFLINE');
    } catch (err) {
      this.deps.log.warn({ err }, 'presence sweep failed');
    }
  }

  close(): void {
    clearInterval(this.refreshTimer);
    clearInterval(this.sweepTimer);
    for (const t of this.offlineChecks.values()) clearTimeout(t);
  }
}
