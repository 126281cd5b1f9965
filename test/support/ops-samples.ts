// Instance samples for the unit tests of the operations console (src/ops/*.test.ts).
import type { InstanceSample } from '../../src/ops/stats.js';

export const E2E_BOUNDS = [0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5];

export interface SampleOptions {
  at: number;
  id?: string;
  startedAt?: number;
  messagesIn?: number;
  deliveriesOut?: number;
  cpuSeconds?: number;
  stompErrors?: Record<string, number>;
  deadLettered?: Record<string, number>;
  httpApi?: number;
  httpApi5xx?: number;
  webhookRequests?: Record<string, number>;
  webhookDeliveries?: Record<string, number>;
  /** Cumulative observations per bound of E2E_BOUNDS (then +Inf = the last). */
  e2e?: number[];
  groups?: Array<{ group: string; ready: boolean }>;
  leaving?: boolean;
}

export function sample(o: SampleOptions): InstanceSample {
  const e2e = o.e2e ?? E2E_BOUNDS.map(() => 0);
  return {
    v: 1,
    id: o.id ?? 'app-1',
    roles: ['gateway', 'persist'],
    mode: 'cluster',
    startedAt: o.startedAt ?? 1,
    at: o.at,
    ...(o.leaving ? { leaving: true } : {}),
    sessions: 3,
    connections: { ws: 2, tcp: 1 },
    loop: { p99Ms: 1, maxMs: 2 },
    cpuSeconds: o.cpuSeconds ?? 0,
    memory: { rssBytes: 1, heapUsedBytes: 1 },
    counters: {
      messagesIn: o.messagesIn ?? 0,
      deliveriesOut: o.deliveriesOut ?? 0,
      stompErrors: o.stompErrors ?? { unauthorized: 0 },
      deadLettered: o.deadLettered ?? { 'chat-persist': 0 },
      httpApi: o.httpApi ?? 0,
      httpApi5xx: o.httpApi5xx ?? 0,
      webhookRequests: o.webhookRequests ?? {},
      webhookDeliveries: o.webhookDeliveries ?? {},
      e2e: [...E2E_BOUNDS.map((le, i) => [le, e2e[i] ?? 0] as [number, number]), [null, e2e[e2e.length - 1] ?? 0]],
    },
    groups: o.groups ?? [{ group: 'chat-persist', ready: true }],
  };
}
