// The membership-lease port: an instance that found a user to be a member of a room may take that answer as true
// for a short while without asking the store again, if it announced the lease first where every instance's leave
// looks. A leave then returns only after every lease announced before it ran out, so no SEND passes a membership
// check once a leave returned.

export interface MembershipLeases {
  /**
   * Announces a lease of `ttlMs` from now on each pair; resolves once every instance's `remainingMs` would see it
   * (replicated where the adapter replicates). A lease is used only after this resolved, and for at most `ttlMs`
   * counted from before the call. Rejects when it cannot say so: then no lease may be used.
   */
  announce(pairs: ReadonlyArray<{ roomId: string; userId: string }>, ttlMs: number): Promise<void>;
  /** Milliseconds until every lease announced on the pair so far has run out (0: none is live). */
  remainingMs(roomId: string, userId: string): Promise<number>;
}
