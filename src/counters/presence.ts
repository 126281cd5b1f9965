// The presence port: which users have a live session anywhere.

/**
 * A user is online while at least one of their sessions is registered and not expired. Sessions
 * expire `ttlMs` after their last refresh, so a SIGKILLed instance leaves nobody online forever.
 * Every operation is atomic per user.
 */
export interface Presence {
  /** Returns true when this made the user go from offline to online. */
  sessionOpened(userId: string, sessionId: string): Promise<boolean>;
  /** Returns true when this made the user go offline. */
  sessionClosed(userId: string, sessionId: string): Promise<boolean>;
  /** Extends the life of live sessions (call every ttl/3), registering again any that Redis lost or let expire. */
  refresh(sessions: ReadonlyArray<readonly [userId: string, sessionId: string]>): Promise<void>;
  onlineUsers(userIds: readonly string[]): Promise<Set<string>>;
}
