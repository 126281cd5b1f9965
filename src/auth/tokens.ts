// JWT access tokens: HS256 only (alg:none and every other algorithm are refused), sub = user id.
import jwt from 'jsonwebtoken';
import { appError } from '../errors.js';

export interface TokenService {
  issue(userId: string): string;
  /** Returns the user id; throws AppError('unauthorized'). Does not check that the user still exists. */
  verify(token: string): string;
}

export function createTokenService(secret: string, ttlSeconds: number): TokenService {
  return {
    issue(userId) {
      return jwt.sign({}, secret, { algorithm: 'HS256', subject: userId, expiresIn: ttlSeconds });
    },
    verify(token) {
      try {
        const payload = jwt.verify(token, secret, { algorithms: ['HS256'] });
        if (typeof payload === 'string' || typeof payload.sub !== 'string' || !/^\d{1,19}$/.test(payload.sub)) {
          throw new Error('bad subject');
        }
        return payload.sub;
      } catch (err) {
        const expired = (err as Error).name === 'TokenExpiredError';
        throw appError('unauthorized', expired ? 'token expired' : 'invalid token', undefined, err);
      }
    },
  };
}
