// The CONNECT handshake's pure parts: which STOMP version to speak, where the token is, what an ERROR for a failed
// negotiation carries.
import type { Frame, StompVersion } from '../../protocol/index.js';
import { AppError } from '../shared/errors.js';

export const SUPPORTED_VERSIONS: readonly StompVersion[] = ['1.2', '1.1', '1.0'];

/** The highest version both sides speak; a CONNECT without `accept-version` is STOMP 1.0. undefined: none. */
export function negotiateVersion(frame: Frame): StompVersion | undefined {
  const accepted = (frame.headers['accept-version'] ?? '1.0').split(',').map((v) => v.trim());
  return SUPPORTED_VERSIONS.find((v) => accepted.includes(v));
}

/**
 * The token of a CONNECT: `Authorization: Bearer <jwt>` wins over `passcode: <jwt>` (any `login`), which wins over
 * the WebSocket URL's `access_token`.
 */
export function tokenOf(frame: Frame, urlToken: string | null): string | null {
  const authorization = frame.headers.authorization ?? frame.headers.Authorization;
  const bearer = authorization && /^Bearer\s+(.+)$/i.exec(authorization)?.[1];
  return bearer || frame.headers.passcode || urlToken;
}

/** STOMP 1.2: an ERROR for a failed version negotiation carries the versions the server supports. */
export class VersionMismatch extends AppError {
  constructor() {
    super('bad-frame', `supported versions are ${SUPPORTED_VERSIONS.join(',')}`);
  }

  readonly headers = { version: SUPPORTED_VERSIONS.join(',') };
}
