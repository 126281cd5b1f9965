// STOMP 1.2 frame shape and the command sets of the specification (section "Augmented BNF").

/**
 * One decoded (or to-be-encoded) STOMP frame.
 *
 * - `headers` is a null-prototype object, so a header named `__proto__` or `constructor` is plain data.
 *   When a header is repeated, the FIRST occurrence is kept (STOMP 1.2 "Repeated Header Entries").
 *   Names and values are already unescaped (except in CONNECT/CONNECTED frames, which are never escaped).
 * - `body` is an empty Buffer when the frame has none. A decoded body may be a view into the chunk that was
 *   pushed into the decoder (no copy); copy it if you keep it for long and memory matters.
 */
export interface Frame {
  command: string;
  headers: Record<string, string>;
  body: Buffer;
}

/** Commands a client may send (STOMP 1.2 `client-command`; `STOMP` is a synonym of `CONNECT`). */
export const CLIENT_COMMANDS: ReadonlySet<string> = new Set([
  'CONNECT',
  'STOMP',
  'SEND',
  'SUBSCRIBE',
  'UNSUBSCRIBE',
  'BEGIN',
  'COMMIT',
  'ABORT',
  'ACK',
  'NACK',
  'DISCONNECT',
]);

/** Commands a server may send (STOMP 1.2 `server-command`). */
export const SERVER_COMMANDS: ReadonlySet<string> = new Set(['CONNECTED', 'MESSAGE', 'RECEIPT', 'ERROR']);

/** Every command of STOMP 1.2. */
export const ALL_COMMANDS: ReadonlySet<string> = new Set([...CLIENT_COMMANDS, ...SERVER_COMMANDS]);

/**
 * Whether header names and values of frames with this command are escaped on the wire.
 * CONNECT and CONNECTED are never escaped, for backward compatibility with STOMP 1.0 (STOMP 1.2 "Value Encoding").
 * `STOMP` is not in that exception: the specification names only CONNECT and CONNECTED.
 */
export function usesEscaping(command: string): boolean {
  return command !== 'CONNECT' && command !== 'CONNECTED';
}
