// Messages the user wrote that the server has not acknowledged yet. Each has an idempotency key that stays the
// same across retries, so resending after a reconnect can never make a second message (API.md: same key from
// the same sender -> the same message). A RECEIPT (sent once Kafka acknowledged) carries the message's seq.

/** Error codes after which resending the same message cannot succeed. */
const FINAL_ERRORS = new Set(['invalid-message', 'forbidden', 'frame-too-large', 'bad-frame', 'unknown-destination']);
const MAX_CONTENT_BYTES = 4096;

let counter = 0;

/** A random key; crypto.randomUUID exists only in secure contexts, getRandomValues everywhere. */
export function randomKey() {
  const b = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}

/** Why the server would refuse this text, or null. Checked before sending so a bad message never loops. */
export function contentProblem(content) {
  if (content.trim().length === 0) return 'Write something first.';
  if (content.includes('\u0000')) return 'The message contains a character that cannot be sent.';
  const bytes = new TextEncoder().encode(content).length;
  if (bytes > MAX_CONTENT_BYTES) return `The message is too long (${bytes} bytes; at most ${MAX_CONTENT_BYTES}).`;
  return null;
}

/**
 * @typedef {{ key: string, roomId: string, content: string, createdAt: string,
 *   state: 'sending' | 'sent' | 'failed', receiptId: string | null, seq: string | null, messageId: string | null,
 *   error: string | null }} OutgoingMessage
 */

export class Outbox {
  /**
   * @param {() => import('./connection.js').Connection | null} getConn
   * @param {(entry: OutgoingMessage) => void} onChange called when an entry is sent or failed
   */
  constructor(getConn, onChange) {
    this.getConn = getConn;
    this.onChange = onChange;
    /** @type {OutgoingMessage[]} in the order written */
    this.entries = [];
  }

  /** Queues a message; it goes out now when connected, else on the next connect. */
  add(roomId, content) {
    /** @type {OutgoingMessage} */
    const entry = {
      key: randomKey(),
      roomId,
      content,
      createdAt: new Date().toISOString(),
      state: 'sending',
      receiptId: null,
      seq: null,
      messageId: null,
      error: null,
    };
    this.entries.push(entry);
    this.transmit(entry);
    return entry;
  }

  /** After (re)connecting: everything unacknowledged goes again, in the original order, under the same keys. */
  flush() {
    for (const e of this.entries) if (e.state === 'sending') this.transmit(e);
  }

  pendingFor(roomId) {
    return this.entries.filter((e) => e.roomId === roomId);
  }

  transmit(entry) {
    const conn = this.getConn();
    if (!conn || !conn.connected) return;
    const receiptId = `send-${++counter}`;
    entry.receiptId = receiptId;
    conn.watchForReceipt(receiptId, (frame) => {
      if (entry.receiptId !== receiptId || entry.state !== 'sending') return;
      this.settle(entry, frame.headers.seq ?? null, frame.headers['message-id'] ?? null);
    });
    try {
      conn.publish({
        destination: `/topic/rooms.${entry.roomId}`,
        body: entry.content,
        headers: { 'content-type': 'text/plain;charset=utf-8', 'idempotency-key': entry.key, receipt: receiptId },
      });
    } catch {
      // the socket closed under us: flush() resends on the next connect
    }
  }

  /** An ERROR frame: final errors fail the message they answer; others are retried after the reconnect. */
  onError(frame) {
    const rid = frame.headers['receipt-id'];
    const entry = rid && this.entries.find((e) => e.receiptId === rid);
    if (!entry) return;
    if (FINAL_ERRORS.has(frame.headers.message)) {
      entry.state = 'failed';
      entry.error = frame.body || frame.headers.message;
      this.onChange(entry);
    }
  }

  /**
   * A live message from ourselves whose RECEIPT has not come yet: a connection's SENDs are appended in order,
   * so it belongs to the oldest unacknowledged entry of that room with the same text.
   */
  matchEcho(message) {
    const entry = this.entries.find((e) => e.state === 'sending' && e.roomId === message.roomId && e.content === message.content);
    if (entry) this.settle(entry, message.seq, message.id);
    return entry ?? null;
  }

  discard(entry) {
    this.entries = this.entries.filter((e) => e !== entry);
  }

  settle(entry, seq, messageId) {
    entry.state = 'sent';
    entry.seq = seq;
    entry.messageId = messageId;
    this.entries = this.entries.filter((e) => e !== entry);
    this.onChange(entry);
  }
}
