// JWT access tokens: HS256 only (alg:none and every other algorithm are refused), sub = user id.
import { createSecretKey } from 'node:crypto';
import jwt from 'jsonwebtoken';
import { appError } from '../shared/errors.js';
import { isCanonicalId } from '../shared/model.js';

export interface VerifiedToken {
  userId: string;
  /** ms since the epoch, or null when the token has no `exp`. */
  expiresAt: number | null;
}

export interface TokenService {
  issue(userId: string): string;
  /** Throws AppError('unauthorized'). Does not check that the user still exists. */
  verify(token: string): VerifiedToken;
}

export function createTokenService(secret: string, ttlSeconds: number): TokenService {
  // One KeyObject for the process: given the string, jsonwebtoken first tries it as a PEM public key (a thrown
  // and caught error) and builds a secret key on every call — a third of a CONNECT's CPU in a connection storm.
  const key = createSecretKey(Buffer.from(secret, 'utf8'));
  return {
    issue(userId) {
      return jwt.sign({}, key, { algorithm: 'HS256', subject: userId, expiresIn: ttlSeconds });
    },
    verify(token) {
      let payload: string | jwt.JwtPayload;
      try {
        payload = jwt.verify(token, key, { algorithms: ['HS256'] });
      } catch (err) {
        const expired = (err as Error).name === 'TokenExpiredError';
        throw appError('unauthorized', expired ? 'token expired' : 'invalid token', undefined, err);
      }
      // A validly signed token still carries only what we issue: a canonical user id within bigint.
      if (typeof payload === 'string' || typeof payload.sub !== 'string' || !isCanonicalId(payload.sub)) {
        throw appError('unauthorized', 'invalid token');
      }
      return { userId: payload.sub, expiresAt: typeof payload.exp === 'number' ? payload.exp * 1000 : null };
    },
  };
}
