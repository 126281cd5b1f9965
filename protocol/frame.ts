// STOMP frame shape, protocol versions and the command sets of the specification (section "Augmented BNF").

/**
 * A STOMP protocol version, as negotiated in CONNECT/CONNECTED. It decides how header names and values are
 * written on the wire (see {@link usesEscaping} for the CONNECT/CONNECTED exception):
 * - `'1.0'`: no escaping at all. Names and values are literal (a backslash is data, a ':' in a value is data);
 *   CR and LF cannot be carried, nor a ':' in a name.
 * - `'1.1'`: `\n` (LF), `\c` (':'), `\\` (backslash). There is no escape for CR: `\r` is an undefined escape.
 * - `'1.2'`: `\r` (CR), `\n`, `\c`, `\\`.
 */
export type StompVersion = '1.0' | '1.1' | '1.2';

/** Throws RangeError unless `version` is a {@link StompVersion} (for callers that are not type-checked). */
export function checkVersion(version: string): asserts version is StompVersion {
  if (version !== '1.2' && version !== '1.1' && version !== '1.0') {
    throw new RangeError(`unknown STOMP version ${JSON.stringify(version)}`);
  }
}

/**
 * One decoded (or to-be-encoded) STOMP frame.
 *
 * - `headers` is a null-prototype object, so a header named `__proto__` or `constructor` is plain data.
 *   When a header is repeated, the FIRST occurrence is kept (STOMP 1.2 "Repeated Header Entries").
 *   Names and values are already unescaped as the decoder's `version` says (never in CONNECT/CONNECTED frames,
 *   nor in any frame of STOMP 1.0).
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
 * Whether header names and values of frames with this command are escaped on the wire (in STOMP 1.1 and 1.2;
 * STOMP 1.0 escapes nothing). CONNECT and CONNECTED are never escaped, in any version, for backward
 * compatibility with STOMP 1.0 (STOMP 1.2 "Value Encoding"); their headers follow the 1.0 rules.
 * `STOMP` is not in that exception: the specification names only CONNECT and CONNECTED.
 */
export function usesEscaping(command: string): boolean {
  return command !== 'CONNECT' && command !== 'CONNECTED';
}
