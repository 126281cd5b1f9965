// A load-driver worker process (forked by driver.ts): runs its share of the clients, sends on an open-loop
// schedule (every message has an intended time; latency counts from it, so a late driver or a slow server
// cannot hide queueing: coordinated omission is corrected), and records what it receives in HdrHistograms.
import type { Histogram } from 'hdr-histogram-js';
import { encodeBody, parseBody, type BodyFields } from './body.js';
import type { LoadClient } from './client.js';
import { encodeHistogram, newHistogram, recordMs } from './histogram.js';
import {
  epochNow,
  type ClientSpec,
  type ConnectOptions,
  type ConnectResult,
  type FromWorker,
  type HoldStatus,
  type StepCounts,
  type StepPlan,
  type ToWorker,
} from './ipc.js';
import { StompLoadClient } from './stomp-client.js';

/** What one subscription of one client received in the current step. */
interface SubState {
  room: number;
  maxSeq: number;
  /** Bit per seq seen (seq starts at 1 each step). */
  seen: Uint8Array;
  unique: number;
  dup: number;
  ooo: number;
}

interface Sender {
  client: LoadClient;
  room: number;
  destination: string;
  /** Index of the next message of this room in the step (its seq is next + 1). */
  next: number;
  sent: number;
  sentInWindow: number;
}

const send = (m: FromWorker) => process.send!(m);

const clients: LoadClient[] = [];
const subsOf = new Map<LoadClient, Map<number, SubState>>();
let step: StepPlan | null = null;
let windowStart = Infinity;
let windowEnd = -Infinity;
let senders: Sender[] = [];
let sendTimer: NodeJS.Timeout | null = null;
let progressTimer: NodeJS.Timeout | null = null;
let latency: Histogram = newHistogram();
let sendLag: Histogram = newHistogram();
let receiptLat: Histogram = newHistogram();
let counts: StepCounts = emptyCounts(-1);
/** Errors outside steps (idle holds, connects). */
let holdErrors: Record<string, number> = {};
let closedUnexpectedly = 0;
const scratch: BodyFields = { step: 0, room: 0, seq: 0, intendedMs: 0 };

function emptyCounts(stepNo: number): StepCounts {
  return {
    step: stepNo,
    sentByRoom: [],
    subscriptions: [],
    uniqueDeliveries: 0,
    deliveriesInWindow: 0,
    late: 0,
    malformed: 0,
    receiptsOk: 0,
    sendingDone: false,
    errors: {},
  };
}

function countError(reason: string): void {
  const bag = step ? counts.errors : holdErrors;
  bag[reason] = (bag[reason] ?? 0) + 1;
}

async function makeClient(spec: ClientSpec): Promise<LoadClient> {
  if (spec.transport === 'socketio') {
    const { SocketIoLoadClient } = await import('./socketio-client.js');
    return new SocketIoLoadClient(spec);
  }
  return new StompLoadClient(spec);
}

function onPayload(client: LoadClient, payload: Buffer | string): void {
  const now = epochNow();
  if (!parseBody(payload, scratch)) {
    counts.malformed++;
    return;
  }
  if (!step || scratch.step !== step.step) {
    counts.late++;
    return;
  }
  const sub = subsOf.get(client)?.get(scratch.room);
  if (!sub) {
    counts.malformed++;
    return;
  }
  const seq = scratch.seq;
  const byte = seq >> 3;
  if (byte >= sub.seen.length) {
    const grown = new Uint8Array(Math.max(byte + 1, sub.seen.length * 2));
    grown.set(sub.seen);
    sub.seen = grown;
  }
  const bit = 1 << (seq & 7);
  if (sub.seen[byte]! & bit) {
    sub.dup++;
    return;
  }
  sub.seen[byte]! |= bit;
  sub.unique++;
  counts.uniqueDeliveries++;
  if (seq < sub.maxSeq) sub.ooo++;
  else sub.maxSeq = seq;
  if (now >= windowStart && now < windowEnd) counts.deliveriesInWindow++;
  if (scratch.intendedMs >= windowStart && scratch.intendedMs < windowEnd) recordMs(latency, now - scratch.intendedMs);
}

async function connectAll(specs: ClientSpec[], opts: ConnectOptions): Promise<ConnectResult> {
  const connectHist = newHistogram();
  const handshakeHist = newHistogram();
  const errors: Record<string, number> = {};
  let connected = 0;
  let failed = 0;
  const one = async (spec: ClientSpec, origin: number | null) => {
    const client = await makeClient(spec);
    try {
      const startedAt = await client.connect(opts.timeoutMs);
      await client.subscribe(opts.timeoutMs);
      const now = epochNow();
      recordMs(connectHist, now - (origin ?? startedAt));
      recordMs(handshakeHist, now - startedAt);
      client.onPayload = (p) => onPayload(client, p);
      client.onError = (reason) => countError(reason);
      client.onUnexpectedClose = () => {
        closedUnexpectedly++;
        countError('closed by server');
      };
      clients.push(client);
      connected++;
    } catch (err) {
      client.close();
      failed++;
      const reason = (err as Error).message;
      errors[reason] = (errors[reason] ?? 0) + 1;
    }
  };
  if (opts.startAt !== undefined) {
    const at = opts.startAt;
    await new Promise((r) => setTimeout(r, Math.max(0, at - epochNow())));
    await Promise.all(specs.map((s) => one(s, at)));
  } else {
    let next = 0;
    const lane = async () => {
      while (next < specs.length) await one(specs[next++]!, null);
    };
    await Promise.all(Array.from({ length: Math.min(opts.concurrency, specs.length) }, lane));
  }
  const result = { connected, failed, errors, connectHist: encodeHistogram(connectHist), handshakeHist: encodeHistogram(handshakeHist) };
  connectHist.destroy();
  handshakeHist.destroy();
  return result;
}

function snapshotCounts(): StepCounts {
  const subscriptions: Array<[number, number, number, number]> = [];
  for (const subs of subsOf.values()) for (const s of subs.values()) subscriptions.push([s.room, s.unique, s.dup, s.ooo]);
  return { ...counts, sentByRoom: senders.map((s) => [s.room, s.sent, s.sentInWindow]), subscriptions };
}

function startStep(plan: StepPlan): void {
  stopSending();
  step = plan;
  windowStart = plan.startAt + plan.warmupMs;
  windowEnd = windowStart + plan.durationMs;
  counts = emptyCounts(plan.step);
  for (const h of [latency, sendLag, receiptLat]) h.reset();
  subsOf.clear();
  senders = [];
  for (const c of clients) {
    if (!c.open) continue;
    subsOf.set(c, new Map(c.spec.subscribe.map((s) => [s.room, { room: s.room, maxSeq: 0, seen: new Uint8Array(64), unique: 0, dup: 0, ooo: 0 }])));
    if (c.spec.send) senders.push({ client: c, room: c.spec.send.room, destination: c.spec.send.destination, next: 0, sent: 0, sentInWindow: 0 });
  }
  const endAt = windowEnd;
  const intervalMs = 1000 / plan.rate;
  const due = (s: Sender) => plan.startAt + (s.next * plan.rooms + s.room) * intervalMs;
  const tick = () => {
    sendTimer = null;
    const now = epochNow();
    let wake = Infinity;
    for (const s of senders) {
      for (;;) {
        const intended = due(s);
        if (intended >= endAt) break;
        if (intended > now) {
          if (intended < wake) wake = intended;
          break;
        }
        s.next++;
        const inWindow = intended >= windowStart;
        const body = encodeBody({ step: plan.step, room: s.room, seq: s.next, intendedMs: intended }, plan.bodyBytes);
        const onAck = plan.receipts
          ? () => {
              counts.receiptsOk++;
              if (inWindow) recordMs(receiptLat, epochNow() - intended);
            }
          : undefined;
        if (!s.client.send(s.destination, body, onAck)) {
          countError('send on closed connection');
          continue;
        }
        s.sent++;
        if (inWindow) {
          s.sentInWindow++;
          recordMs(sendLag, epochNow() - intended);
        }
      }
    }
    if (wake < Infinity) sendTimer = setTimeout(tick, Math.max(0, wake - epochNow()));
    else counts.sendingDone = true;
  };
  sendTimer = setTimeout(tick, Math.max(0, plan.startAt - epochNow()));
  progressTimer = setInterval(() => send({ type: 'progress', counts: snapshotCounts() }), 500);
}

function stopSending(): void {
  if (sendTimer) clearTimeout(sendTimer);
  if (progressTimer) clearInterval(progressTimer);
  sendTimer = null;
  progressTimer = null;
}

function holdStatus(): HoldStatus {
  let open = 0;
  let hbIn = 0;
  let hbOut = 0;
  let minIn = Infinity;
  let serverEvery = 0;
  for (const c of clients) {
    hbOut += c.heartbeatsOut;
    if (c.serverHeartbeatMs > serverEvery) serverEvery = c.serverHeartbeatMs;
    if (!c.open) continue;
    open++;
    hbIn += c.heartbeatsIn;
    if (c.heartbeatsIn < minIn) minIn = c.heartbeatsIn;
  }
  return {
    open,
    closedUnexpectedly,
    heartbeatsIn: hbIn,
    minHeartbeatsIn: open ? minIn : 0,
    heartbeatsOut: hbOut,
    serverHeartbeatMs: serverEvery,
    errors: { ...holdErrors },
  };
}

async function closeAll(): Promise<void> {
  stopSending();
  step = null;
  for (const c of clients) c.close();
  clients.length = 0;
  subsOf.clear();
  senders = [];
  // Let close handshakes go out before answering (bounded).
  await new Promise((r) => setTimeout(r, 200));
}

async function handle(m: ToWorker): Promise<void> {
  switch (m.type) {
    case 'connect':
      send({ type: 'connected', result: await connectAll(m.clients, m.opts) });
      return;
    case 'step':
      startStep(m.plan);
      return;
    case 'collect': {
      stopSending();
      const stats = {
        ...snapshotCounts(),
        latencyHist: encodeHistogram(latency),
        sendLagHist: encodeHistogram(sendLag),
        receiptHist: encodeHistogram(receiptLat),
      };
      send({ type: 'stats', stats });
      // Later deliveries of this step count as late.
      step = null;
      return;
    }
    case 'status':
      send({ type: 'status', status: holdStatus() });
      return;
    case 'close':
      await closeAll();
      send({ type: 'closed' });
      return;
    case 'exit':
      await closeAll();
      process.exit(0);
  }
}

process.on('message', (m: ToWorker) => {
  handle(m).catch((err: unknown) => {
    send({ type: 'fatal', error: err instanceof Error ? (err.stack ?? err.message) : String(err) });
    process.exit(1);
  });
});
// The parent is gone (crash, SIGKILL): never outlive it.
process.on('disconnect', () => process.exit(0));
// Ctrl-C reaches the whole process group: the parent decides when workers stop.
process.on('SIGINT', () => {});
send({ type: 'hello', pid: process.pid });
