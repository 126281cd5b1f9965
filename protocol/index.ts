// STOMP 1.2 codec: a pure library (no sockets, no logging); the gateway feeds it bytes and writes what it returns.

export type { Frame } from './frame.js';
export { ALL_COMMANDS, CLIENT_COMMANDS, SERVER_COMMANDS, usesEscaping } from './frame.js';
export type { StompErrorCode, StompErrorReason } from './errors.js';
export { StompProtocolError } from './errors.js';
export { escapeHeader, unescapeHeader } from './escape.js';
export type { DecoderHandlers, DecoderLimits, DecoderOptions } from './decoder.js';
export { DEFAULT_DECODER_LIMITS, StompDecoder } from './decoder.js';
export type { HeadersInput } from './encoder.js';
export { HEARTBEAT, PreparedMessage, encodeFrame, encodeFrameParts } from './encoder.js';
