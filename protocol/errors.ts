// The one error type of the codec: a protocol violation by the peer, with a stable short code.

/** Short code the gateway puts in the ERROR frame's `message` header. */
export type StompErrorCode = 'bad-frame' | 'frame-too-large';

/**
 * Finer cause of a {@link StompProtocolError}. The decoder only produces the listed values;
 * the type stays open (`string & {}`) so callers may add their own.
 */
export type StompErrorReason =
  | 'invalid-escape' // undefined escape sequence such as `\t` (or `\r` in STOMP 1.1), or a trailing lone backslash
  | 'invalid-utf8' // header name or value is not valid UTF-8
  | 'invalid-eol' // a CR not followed by LF (in a command/header line or between frames)
  | 'missing-nul' // the byte after a content-length body is not NUL
  | 'unknown-command' // command line is not a STOMP 1.2 command (of the accepted set)
  | 'command-too-long' // command line longer than maxCommandBytes
  | 'header-too-long' // one header line longer than maxHeaderBytes
  | 'too-many-headers' // more than maxHeaders header lines
  | 'body-too-large' // frame would exceed maxFrameBytes
  | 'bad-content-length' // content-length is not a non-negative decimal integer
  | 'malformed-header' // header line without ':' or with an empty name
  | (string & {});

/**
 * A violation of STOMP (of the version in force) or of our size limits by the peer.
 * The connection must be closed after it.
 */
export class StompProtocolError extends Error {
  /** Short code for the ERROR frame's `message` header. */
  readonly code: StompErrorCode;
  /** Finer cause, for logs and metrics labels (small fixed set). */
  readonly reason: StompErrorReason;

  constructor(code: StompErrorCode, reason: StompErrorReason, message: string) {
    super(message);
    this.name = 'StompProtocolError';
    this.code = code;
    this.reason = reason;
  }
}

/** Factory used by the codec so every error gets its code and reason in one place (as ws's `createError`). */
export function badFrame(reason: StompErrorReason, message: string): StompProtocolError {
  return new StompProtocolError('bad-frame', reason, message);
}

/** Factory for size-limit breaches (STOMP 1.2 "Size Limits": the server SHOULD send ERROR and close). */
export function frameTooLarge(reason: StompErrorReason, message: string): StompProtocolError {
  return new StompProtocolError('frame-too-large', reason, message);
}
