// What the application needs from the outside world, as ports: the two modes (cluster, embedded) each build one.
import type { AckPositions } from '../counters/ack-positions.js';
import type { IdempotencyStore } from '../counters/idempotency.js';
import type { Leases } from '../counters/leases.js';
import type { MembershipLeases } from '../counters/membership-leases.js';
import type { Presence } from '../counters/presence.js';
import type { RateWindows } from '../counters/rate-windows.js';
import type { ReadPositions } from '../counters/read-positions.js';
import type { FanoutBus } from '../fanout/fanout.js';
import type { DeadLetterTopic } from '../log/dead-letter.js';
import type { ConsumerGroups, MessageLog } from '../log/message-log.js';
import type { DeadLetterMarks } from '../store/dead-letter-marks.js';
import type { Store } from '../store/store.js';

export interface Infra {
  /** Human description for the start-up banner (which services, where the data is). */
  readonly description: string;
  store: Store;
  messageLog: MessageLog;
  consumers: ConsumerGroups;
  bus: FanoutBus;
  presence: Presence;
  positions: ReadPositions;
  acks: AckPositions;
  idempotency: IdempotencyStore;
  leases: Leases;
  membershipLeases: MembershipLeases;
  rates: RateWindows;
  /** The dead-letter topic read back and replayed, and the operators' marks on it (the operations console). */
  deadLetters: DeadLetterTopic;
  deadLetterMarks: DeadLetterMarks;
  /** The JWT secret when the mode provides one (embedded: generated once and kept in the data folder). */
  jwtSecret?: string;
  /** Dependency checks for /readyz, by name (throw when unavailable). */
  readiness: Record<string, () => Promise<void>>;
  /** Consumer lag per group and partition, for metrics (cluster: from Kafka's committed and end offsets). */
  lag?(): Promise<Array<{ group: string; topic: string; partition: number; lag: number }>>;
  /** Closes every adapter, in reverse order of opening; each step bounded. */
  close(): Promise<void>;
}
