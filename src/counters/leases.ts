// The lease port: a short exclusive right shared by instances (e.g. "this instance runs the presence sweep now").

/** `acquire` is atomic across instances: at most one holder per name until the lease expires after `ttlMs`. */
export interface Leases {
  acquire(name: string, holder: string, ttlMs: number): Promise<boolean>;
}
