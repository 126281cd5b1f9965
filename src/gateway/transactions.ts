// STOMP transactions (BEGIN/COMMIT/ABORT) with a budget: a connection holds at most `maxOpen` transactions, each
// at most `maxFrames` SENDs and `maxBytes` of bodies, so buffering them cannot grow memory without limit.
import type { SendInput } from '../chat/input.js';
import { appError } from '../shared/errors.js';

/** A SEND held by a transaction: only its receipt id and its parsed input (never the frame or its chunk). */
export interface TxSend {
  receipt: string | undefined;
  roomId: string;
  input: SendInput;
}

interface Tx {
  sends: TxSend[];
  bytes: number;
}

export class Transactions {
  private readonly open = new Map<string, Tx>();

  constructor(private readonly limits: { maxOpen: number; maxFrames: number; maxBytes: number }) {}

  begin(id: string): void {
    if (this.open.has(id)) throw appError('bad-frame', `transaction ${id} already open`);
    if (this.open.size >= this.limits.maxOpen) throw appError('bad-frame', `at most ${this.limits.maxOpen} open transactions per connection`);
    this.open.set(id, { sends: [], bytes: 0 });
  }

  add(id: string, send: TxSend): void {
    const tx = this.open.get(id);
    if (!tx) throw appError('bad-frame', `unknown transaction ${id}`);
    // What is held: the content (a copy, not a view of the received chunk) and the idempotency key.
    const bytes = Buffer.byteLength(send.input.content, 'utf8') + (send.input.idempotencyKey?.length ?? 0);
    if (tx.sends.length >= this.limits.maxFrames) throw appError('bad-frame', `at most ${this.limits.maxFrames} SENDs per transaction`);
    if (tx.bytes + bytes > this.limits.maxBytes) throw appError('bad-frame', `at most ${this.limits.maxBytes} bytes of content per transaction`);
    tx.sends.push(send);
    tx.bytes += bytes;
  }

  /** Ends the transaction (COMMIT or ABORT) and returns its SENDs. */
  take(id: string | undefined): TxSend[] {
    const tx = id === undefined ? undefined : this.open.get(id);
    if (!tx) throw appError('bad-frame', `unknown transaction ${id ?? ''}`);
    this.open.delete(id!);
    return tx.sends;
  }

  /** Open transactions die with the connection (STOMP: aborted on disconnect). */
  clear(): void {
    this.open.clear();
  }

  get size(): number {
    return this.open.size;
  }
}
