// Closing what was opened, in reverse order, each step bounded so one hung client cannot keep the rest open.
import type { Logger } from 'pino';
import { withTimeout } from '../shared/timeout.js';

export class Closers {
  private readonly steps: Array<[string, () => Promise<unknown> | unknown]> = [];

  constructor(private readonly log: Logger) {}

  add(name: string, fn: () => Promise<unknown> | unknown): void {
    this.steps.push([name, fn]);
  }

  async closeAll(stepMs = 5000): Promise<void> {
    while (this.steps.length > 0) {
      const [name, fn] = this.steps.pop()!;
      try {
        await withTimeout(Promise.resolve().then(fn), stepMs);
      } catch (err) {
        this.log.warn({ err, step: name }, 'close step failed');
      }
    }
  }
}
