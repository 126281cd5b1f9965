// A corrected `consumer/fetcher.js` for kafkajs 2.2.4 (installed by kafkajs.ts). A fetcher loops
// `while (isRunning) await fetch()`; several of the consumer's answers come back without any I/O — [] from a runner
// that stopped, [] after dropping a closed broker connection — and then the loop never leaves the microtask queue:
// no timer, socket or signal runs again. Measured on a 3-node cluster under node kills: the process froze at 100 %
// of a core with this loop on top of its CPU profile, and ignored SIGTERM. Here a fetch that returns nothing
// without having waited is followed by a short sleep, so the loop always yields. The rest is the original.
import { EventEmitter } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';

interface Batch {
  topic: string;
  partition: number;
}

interface FetcherOptions {
  nodeId: number;
  workerQueue: { push(...batches: Batch[]): Promise<void> };
  partitionAssignments: Map<string, number>;
  fetch(nodeId: number): Promise<Batch[]>;
  logger: { namespace(n: string): { info(m: string, x?: object): void } };
}

/** A fetch answered faster than this without a batch did not wait for anything. */
const INSTANT_MS = 2;
const YIELD_MS = 100;

export function createFetcher({ nodeId, workerQueue, partitionAssignments, fetch, logger: rootLogger }: FetcherOptions) {
  const logger = rootLogger.namespace(`Fetcher ${nodeId}`);
  const emitter = new EventEmitter();
  let isRunning = false;

  const key = ({ topic, partition }: Batch) => `${topic}|${partition}`;
  const available = (batches: Batch[]) =>
    batches.filter((batch) => {
      const assigned = partitionAssignments.get(key(batch));
      if (assigned != null && assigned !== nodeId) {
        logger.info('Filtering out batch due to partition already being processed by another fetcher', {
          topic: batch.topic,
          partition: batch.partition,
          assignedFetcher: assigned,
          fetcher: nodeId,
        });
        return false;
      }
      return true;
    });

  const start = async () => {
    if (isRunning) return;
    isRunning = true;
    while (isRunning) {
      try {
        const began = performance.now();
        const batches = await fetch(nodeId);
        if (isRunning) {
          const ready = available(batches);
          if (ready.length > 0) {
            ready.forEach((b) => partitionAssignments.set(key(b), nodeId));
            try {
              await workerQueue.push(...ready);
            } finally {
              ready.forEach((b) => partitionAssignments.delete(key(b)));
            }
          } else if (performance.now() - began < INSTANT_MS) {
            await sleep(YIELD_MS);
          }
        }
      } catch (error) {
        isRunning = false;
        emitter.emit('end');
        throw error;
      }
    }
    emitter.emit('end');
  };

  const stop = async () => {
    if (!isRunning) return;
    isRunning = false;
    await new Promise<void>((resolve) => emitter.once('end', () => resolve()));
  };

  return { start, stop, getWorkerQueue: () => workerQueue };
}
