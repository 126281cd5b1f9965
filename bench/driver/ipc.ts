// Messages between the driver's parent process and its worker processes (JSON over the fork IPC channel).
// The parent sends one command at a time per worker and waits for its answer; workers also send `progress`.

/** How a client reaches the server under test. */
export type Transport = 'ws' | 'tcp' | 'socketio';

/** One simulated client: a connection, the rooms it receives, and the room it sends to. */
export interface ClientSpec {
  /** Unique in the run. */
  id: number;
  transport: Transport;
  /** ws: `ws://host:port/path`; tcp: `tcp://host:port`; socketio: `http://host:port`. */
  url: string;
  /** Local source address of the socket (e.g. 127.0.0.2), to spread connections over ephemeral port ranges. */
  localAddress?: string;
  /** STOMP CONNECT headers (accept-version, host and heart-beat are added when absent). */
  connectHeaders?: Record<string, string>;
  /** STOMP heart-beat offer `[cx, cy]` in ms; default [0, 0]. The client answers at the negotiated rate. */
  heartbeat?: [number, number];
  /**
   * Rooms the client receives, by the driver's room index (0..rooms-1): a STOMP destination it SUBSCRIBEs to
   * (ready at the SUBSCRIBE's RECEIPT), or a Socket.IO room name (joined by the server on connect).
   */
  subscribe: Array<{ room: number; destination: string }>;
  /** The room this client sends to, if it is the room's sender (one sender per room). */
  send?: { room: number; destination: string };
  /** Worker that runs this client; default `id mod workers`. Keep a room's clients together for balance. */
  worker?: number;
}

export interface ConnectOptions {
  /**
   * Epoch ms at which every worker opens all its connections at once (a storm); connect times are then measured
   * from this instant. Without it, connections are opened `concurrency` at a time per worker and each is timed
   * from its own start.
   */
  startAt?: number;
  /** Connections in flight per worker (ignored with startAt). */
  concurrency: number;
  /** A connection not CONNECTED (and subscribed) within this time counts as failed. */
  timeoutMs: number;
}

/** One measured step: all rooms send at `rate` msgs/s in total, open loop, from startAt for warmup + duration. */
export interface StepPlan {
  step: number;
  /** Total messages per second over all rooms. */
  rate: number;
  /** Number of rooms (room indexes 0..rooms-1): room r's j-th message is due at startAt + (j*rooms + r)/rate s. */
  rooms: number;
  /** Epoch ms. */
  startAt: number;
  warmupMs: number;
  durationMs: number;
  /** Body size in bytes (≥ the fields' length). */
  bodyBytes: number;
  /** Ask for a RECEIPT (STOMP) / an acknowledgement callback (Socket.IO) for each send. */
  receipts: boolean;
}

export interface ConnectResult {
  connected: number;
  failed: number;
  /** Failure and error reasons -> count. */
  errors: Record<string, number>;
  /** Time to CONNECTED (and subscribed), µs histograms (compressed base64): from startAt, or from each socket's start. */
  connectHist: string;
  /** Socket start -> CONNECTED (whatever the start was). */
  handshakeHist: string;
}

export interface StepCounts {
  step: number;
  /** [room, messages sent, of which intended inside the measured window] for rooms this worker sends to. */
  sentByRoom: Array<[number, number, number]>;
  /** [room, unique deliveries, duplicates, out of order] per subscription of this worker. */
  subscriptions: Array<[number, number, number, number]>;
  uniqueDeliveries: number;
  /** Deliveries (unique) received inside the measured window. */
  deliveriesInWindow: number;
  /** Deliveries of an earlier step (arrived after its drain). */
  late: number;
  /** Payloads without a readable driver marker, or for a room the client does not receive. */
  malformed: number;
  receiptsOk: number;
  /** Every message of the step has been sent (the schedule is over). */
  sendingDone: boolean;
  /** Error reasons (ERROR frame `message`, socket errors, unexpected closes) -> count, during the step. */
  errors: Record<string, number>;
}

export interface StepStats extends StepCounts {
  /** Intended send time -> delivery, measured-window messages, µs histogram. */
  latencyHist: string;
  /** Intended send time -> actual send: the driver's own lateness. */
  sendLagHist: string;
  /** Intended send time -> RECEIPT / ack. */
  receiptHist: string;
}

export interface HoldStatus {
  open: number;
  closedUnexpectedly: number;
  /** Heart-beats received from the server: total, and the fewest any open connection got. */
  heartbeatsIn: number;
  minHeartbeatsIn: number;
  /** Heart-beats sent to the server. */
  heartbeatsOut: number;
  /** Longest negotiated server heart-beat interval over the connections, ms (0: none). */
  serverHeartbeatMs: number;
  errors: Record<string, number>;
}

export type ToWorker =
  | { type: 'connect'; clients: ClientSpec[]; opts: ConnectOptions }
  | { type: 'step'; plan: StepPlan }
  | { type: 'collect'; step: number }
  | { type: 'status' }
  | { type: 'close' }
  | { type: 'exit' };

export type FromWorker =
  | { type: 'hello'; pid: number }
  | { type: 'connected'; result: ConnectResult }
  | { type: 'progress'; counts: StepCounts }
  | { type: 'stats'; stats: StepStats }
  | { type: 'status'; status: HoldStatus }
  | { type: 'closed' }
  | { type: 'fatal'; error: string };

/** Epoch ms with sub-ms resolution, comparable between the driver's processes on one machine. */
export const epochNow = (): number => performance.timeOrigin + performance.now();
