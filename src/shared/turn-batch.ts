// Calls made in one event-loop turn joining one batch, which goes out once the turn is over (setImmediate): the
// presence opens of a CONNECT storm share one script call, the persist group's partitions of one fetch share one
// INSERT, the broadcast group's one publish, the notify group's unread events one publish. Every caller of a batch
// awaits the same promise and reads its own answer by its index.

/** A caller's place in its batch. */
export interface Joined<T, R> {
  /** The caller's index in `items`. */
  readonly index: number;
  /** The batch's items, in call order (complete once `result` settles). */
  readonly items: readonly T[];
  /** What `flush` made of the whole batch. */
  readonly result: Promise<R>;
}

export class TurnBatch<T, R> {
  private open: { items: T[]; result: Promise<R> } | null = null;

  /** `max`: a batch that holds this many items is closed and the next caller starts a new one. */
  constructor(
    private readonly flush: (items: readonly T[]) => Promise<R>,
    private readonly max = Infinity,
  ) {}

  join(item: T): Joined<T, R> {
    let batch = this.open;
    if (batch === null || batch.items.length >= this.max) {
      const next: { items: T[]; result: Promise<R> } = { items: [], result: Promise.resolve(undefined as R) };
      next.result = new Promise((resolve) => setImmediate(resolve)).then(() => {
        if (this.open === next) this.open = null;
        return this.flush(next.items);
      });
      this.open = batch = next;
    }
    const index = batch.items.push(item) - 1;
    return { index, items: batch.items, result: batch.result };
  }
}
