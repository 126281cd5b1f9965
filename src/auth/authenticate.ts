// Token -> live user: a valid signature is not enough, the user must still exist.
import { appError } from '../shared/errors.js';
import type { User } from '../shared/model.js';
import type { Store } from '../store/store.js';
import type { TokenService } from './tokens.js';

export type Authenticator = (token: string | undefined | null) => Promise<{ user: User; expiresAt: number | null }>;

/**
 * Verifies the token, then loads the user. Lookups of the same turn of the event loop share one store query: a
 * reconnect storm of a thousand CONNECTs costs a handful of queries, not a thousand.
 */
export function createAuthenticator(tokens: TokenService, store: Pick<Store, 'findUsersByIds'>): Authenticator {
  const load = batched((ids: readonly string[]) => store.findUsersByIds(ids));
  return async (token) => {
    if (!token) throw appError('unauthorized', 'missing token');
    const { userId, expiresAt } = tokens.verify(token);
    const found = await load(userId);
    if (!found || found.deletedAt) throw appError('unauthorized', 'unknown user');
    const { passwordHash: _h, deletedAt: _d, ...user } = found;
    return { user, expiresAt };
  };
}

/** Collects the keys asked for in one turn of the event loop and fetches them with one call. */
function batched<V>(fetch: (keys: readonly string[]) => Promise<Map<string, V>>): (key: string) => Promise<V | undefined> {
  let pending: Map<string, Array<{ resolve(v: V | undefined): void; reject(e: unknown): void }>> | null = null;
  const run = async (batch: NonNullable<typeof pending>) => {
    try {
      const found = await fetch([...batch.keys()]);
      for (const [key, waiters] of batch) for (const w of waiters) w.resolve(found.get(key));
    } catch (err) {
      for (const waiters of batch.values()) for (const w of waiters) w.reject(err);
    }
  };
  return (key) =>
    new Promise((resolve, reject) => {
      if (!pending) {
        const batch = new Map<string, Array<{ resolve(v: V | undefined): void; reject(e: unknown): void }>>();
        pending = batch;
        setImmediate(() => {
          pending = null;
          void run(batch);
        });
      }
      const waiters = pending.get(key) ?? [];
      waiters.push({ resolve, reject });
      pending.set(key, waiters);
    });
}
