// The byte pipe under a STOMP session (WebSocket or TCP), with flow control both ways.

export interface Transport {
  readonly kind: 'ws' | 'tcp';
  /** The peer's address (for per-address limits and logs). */
  readonly remoteAddress: string;
  send(data: Buffer): void;
  /** Bytes accepted by send() and not yet handed to the kernel. */
  bufferedBytes(): number;
  /** Stop reading from the peer (its further bytes wait in the kernel and then in the peer: backpressure). */
  pause(): void;
  resume(): void;
  /** Calls `fn` once the output buffered by send() has gone to the kernel (at once when nothing is buffered). */
  onDrain(fn: () => void): void;
  /** Flushes what is queued, then closes. */
  end(): void;
  /** Closes now, dropping queued output. */
  destroy(): void;
}
