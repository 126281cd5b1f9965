// Admission of connections: a cap on connections per instance and on not-yet-authenticated connections per
// remote address (thousands of idle sockets from one address must not exhaust descriptors or memory).

export class ConnectionGate {
  private total = 0;
  private readonly pending = new Map<string, number>();

  constructor(private readonly limits: { maxConnections: number; maxPendingPerIp: number }) {}

  /** Counts a new connection as pending; false (and nothing counted) when a cap is reached. */
  admit(address: string): boolean {
    const n = this.pending.get(address) ?? 0;
    if (this.total >= this.limits.maxConnections || n >= this.limits.maxPendingPerIp) return false;
    this.total++;
    this.pending.set(address, n + 1);
    return true;
  }

  /** The connection authenticated: it no longer counts against its address's pending cap. */
  authenticated(address: string): void {
    this.unpend(address);
  }

  /** The connection closed; `pending` says whether it had not authenticated yet. */
  closed(address: string, pending: boolean): void {
    this.total--;
    if (pending) this.unpend(address);
  }

  get connections(): number {
    return this.total;
  }

  private unpend(address: string): void {
    const n = (this.pending.get(address) ?? 1) - 1;
    if (n <= 0) this.pending.delete(address);
    else this.pending.set(address, n);
  }
}
