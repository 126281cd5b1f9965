// Blocking: a user blocks another, so that the blocked user can no longer put them into rooms (GROUP members,
// invitations) nor open a DIRECT room with them (chat/rooms.ts refuses those like any user who cannot be added).
// An existing DIRECT room between them loses the blocked member at once (subscriptions end on every instance, sends
// are refused); the room and its whole history stay with the blocker, and come back to both when the block is
// lifted and either opens the DIRECT room again.
import { appError } from '../shared/errors.js';
import type { User } from '../shared/model.js';
import type { BlockedUser, Store } from '../store/store.js';
import type { RoomService } from './rooms.js';

/** Users one user may block: the list (and GET /api/users/blocked) stays bounded. */
export const MAX_BLOCKS_PER_USER = 1000;

export interface BlockServiceDeps {
  store: Pick<Store, 'findUserById' | 'block' | 'unblock' | 'listBlocked' | 'findDirectRoom'>;
  rooms: Pick<RoomService, 'remove'>;
}

export class BlockService {
  constructor(private readonly deps: BlockServiceDeps) {}

  /** Idempotent. 400 for oneself, 404 for no such user, 409 past MAX_BLOCKS_PER_USER. */
  async block(user: User, targetId: string): Promise<void> {
    await this.requireOther(user, targetId);
    const result = await this.deps.store.block(user.id, targetId, MAX_BLOCKS_PER_USER);
    if (result === 'limit') throw appError('conflict', `at most ${MAX_BLOCKS_PER_USER} blocked users; unblock some first`);
    // Also when it was already blocked: a retry finishes what a failed first call may have left undone.
    const direct = await this.deps.store.findDirectRoom(user.id, targetId);
    if (direct) await this.deps.rooms.remove(direct.id, targetId, 'removed');
  }

  /** Idempotent. 400 for oneself, 404 for no such user. */
  async unblock(user: User, targetId: string): Promise<void> {
    await this.requireOther(user, targetId);
    await this.deps.store.unblock(user.id, targetId);
  }

  list(user: User): Promise<BlockedUser[]> {
    return this.deps.store.listBlocked(user.id, MAX_BLOCKS_PER_USER);
  }

  private async requireOther(user: User, targetId: string): Promise<void> {
    if (targetId === user.id) throw appError('invalid-request', 'cannot block or unblock yourself', 'id');
    const target = await this.deps.store.findUserById(targetId);
    if (!target || target.deletedAt) throw appError('not-found', 'no such user');
  }
}
