// The registry of error codes: every code a client can see, its HTTP status and whether STOMP uses it.
// API.md lists these; src/shared/errors.test.ts checks the registry and API.md agree.

export const ERROR_CODES = {
  // STOMP ERROR `message` codes (API.md), with the HTTP status used when the same condition hits REST.
  unauthorized: 401,
  forbidden: 403,
  'bad-frame': 400,
  'frame-too-large': 413,
  'unknown-destination': 404,
  'rate-limited': 429,
  'invalid-message': 400,
  'server-unavailable': 503,
  // REST-only codes.
  'invalid-request': 400,
  'invalid-credentials': 401,
  'email-taken': 409,
  'not-found': 404,
  conflict: 409,
  'internal-error': 500,
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

/** STOMP ERROR `message` header values of API.md. */
export const STOMP_ERROR_CODES = [
  'unauthorized',
  'forbidden',
  'bad-frame',
  'frame-too-large',
  'unknown-destination',
  'rate-limited',
  'invalid-message',
  'server-unavailable',
] as const satisfies readonly ErrorCode[];

/** An error meant for a client: a stable code, a human message, optionally the input field at fault. */
export class AppError extends Error {
  override readonly name = 'AppError';
  readonly status: number;
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly field?: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.status = ERROR_CODES[code];
  }
}

export function appError(code: ErrorCode, message: string, field?: string, cause?: unknown): AppError {
  return new AppError(code, message, field, cause === undefined ? undefined : { cause });
}

/** STOMP ERRORs use API.md's short list; REST-only codes map to the nearest (a missing room is `forbidden`). */
export function toStompCode(code: ErrorCode): ErrorCode {
  if ((STOMP_ERROR_CODES as readonly string[]).includes(code)) return code;
  if (code === 'not-found') return 'forbidden';
  if (code === 'invalid-credentials') return 'unauthorized';
  if (code === 'invalid-request' || code === 'conflict') return 'invalid-message';
  return 'server-unavailable';
}
