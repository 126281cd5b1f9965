// What a refused login costs, so that every refusal costs the same: a throttled login (429) is answered no faster
// than one that was checked and refused (401), so neither the throttle nor the account's existence shows in the time.
//
// Padding, not hashing: a throttled answer waits for a duration drawn from the most recent real refusals (password
// hashing, pool queueing and store reads included), on a timer. Hashing for every throttled attempt would also make
// them cost the same, but it would hand whoever is throttled the very CPU the throttle exists to protect (each try
// 16 MiB and ~40 ms of scrypt). Drawing from recent samples, rather than padding to a constant, keeps the two
// distributions alike when the machine is busier or quieter than usual.

/**
 * Recent refusal durations kept (a ring): enough for a distribution, few enough to follow a change of load within
 * a couple of seconds of refusals (64 lagged visibly behind on a busy machine: throttled medians 58 ms vs 85 ms).
 */
const SAMPLES = 16;

export class RefusalCost {
  private readonly ring: number[] = [];
  private next = 0;

  constructor(private readonly random: () => number = Math.random) {}

  /** Records how long a login that did the full check took to be refused (ms). */
  record(ms: number): void {
    if (this.ring.length < SAMPLES) this.ring.push(ms);
    else this.ring[this.next] = ms;
    this.next = (this.next + 1) % SAMPLES;
  }

  /** true once a real refusal has been measured (before that, the caller does the real work once to learn it). */
  get known(): boolean {
    return this.ring.length > 0;
  }

  /** Resolves when a refusal that began at `startedAt` (performance.now()) has cost as long as a real one. */
  pad(startedAt: number): Promise<void> {
    const target = this.ring[Math.floor(this.random() * this.ring.length)] ?? 0;
    const wait = target - (performance.now() - startedAt);
    return wait > 0 ? new Promise((resolve) => setTimeout(resolve, wait)) : Promise.resolve();
  }
}
