// Token -> live user: a valid signature is not enough, the user must still exist.
import type { User } from '../chat/model.js';
import { appError } from '../errors.js';
import type { Store } from '../store/store.js';
import type { TokenService } from './tokens.js';

export type Authenticator = (token: string | undefined | null) => Promise<User>;

export function createAuthenticator(tokens: TokenService, store: Pick<Store, 'findUserById'>): Authenticator {
  return async (token) => {
    if (!token) throw appError('unauthorized', 'missing token');
    const userId = tokens.verify(token);
    const user = await store.findUserById(userId);
    if (!user || user.deletedAt) throw appError('unauthorized', 'unknown user');
    const { passwordHash: _h, deletedAt: _d, ...view } = user;
    return view;
  };
}
