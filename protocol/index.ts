// STOMP 1.0/1.1/1.2 codec: a pure library (no sockets, no logging); the gateway feeds it bytes and writes what it
// returns. Header encoding follows the negotiated version (see StompVersion); every encoded frame ends with NUL + LF.

export type { Frame, StompVersion } from './frame.js';
export { ALL_COMMANDS, CLIENT_COMMANDS, SERVER_COMMANDS, usesEscaping } from './frame.js';
export type { StompErrorCode, StompErrorReason } from './errors.js';
export { StompProtocolError } from './errors.js';
export { escapeHeader, unescapeHeader } from './escape.js';
export type { DecoderHandlers, DecoderLimits, DecoderOptions } from './decoder.js';
export { DEFAULT_DECODER_LIMITS, StompDecoder } from './decoder.js';
export type { FrameForOptions, HeadersInput } from './encoder.js';
export { HEARTBEAT, PreparedMessage, encodeFrame } from './encoder.js';
