// Token -> live user: a valid signature is not enough, the user must still exist.
import { appError } from '../shared/errors.js';
import type { User } from '../shared/model.js';
import type { Store } from '../store/store.js';
import type { TokenService } from './tokens.js';

export type Authenticator = (token: string | undefined | null) => Promise<{ user: User; expiresAt: number | null }>;

export function createAuthenticator(tokens: TokenService, store: Pick<Store, 'findUserById'>): Authenticator {
  return async (token) => {
    if (!token) throw appError('unauthorized', 'missing token');
    const { userId, expiresAt } = tokens.verify(token);
    const found = await store.findUserById(userId);
    if (!found || found.deletedAt) throw appError('unauthorized', 'unknown user');
    const { passwordHash: _h, deletedAt: _d, ...user } = found;
    return { user, expiresAt };
  };
}
