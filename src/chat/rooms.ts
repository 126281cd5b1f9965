// Rooms and membership changes: create (direct, group), join, leave, invite, list. A membership change is
// committed in the store first, then announced on the bus so every gateway acts on it at once.
import type { FanoutBus } from '../fanout/fanout.js';
import { dropFailure } from '../shared/dropped.js';
import { appError } from '../shared/errors.js';
import type { MemberView, MessageView, Room, RoomVisibility, User } from '../shared/model.js';
import type { Store } from '../store/store.js';
import type { Events } from './events.js';
import type { Membership } from './membership.js';
import type { ReadService } from './reads.js';

export interface RoomListItem {
  id: string;
  name: string;
  type: Room['type'];
  visibility: RoomVisibility;
  members: number;
  createdAt: string;
  unreadCount: number;
  lastMessage: MessageView | null;
  /** DIRECT rooms: the other member (absent for GROUP rooms). */
  peer?: { userId: string; nickname: string };
}

export interface RoomServiceDeps {
  store: Store;
  bus: Pick<FanoutBus, 'publishMembership'>;
  events: Events;
  membership: Pick<Membership, 'require' | 'forget' | 'leasesEnded'>;
  reads: Pick<ReadService, 'positions' | 'views' | 'unreadForRooms'>;
  /** Rooms one user may create per hour (each may add up to 1,000 people). */
  roomsPerUserPerHour: number;
}

const FORBIDDEN = 'not a member of this room (or no such room)';

/**
 * The one refusal for people who cannot be added to a room: no such user, a deleted one, or one who has blocked
 * the caller — the same code, message and work (one store query) whichever it is, so it tells no more than
 * "this user cannot be added by you".
 */
function cannotAdd(field: string, ids: readonly string[]) {
  return appError('invalid-request', `no such user, or one you cannot add: ${ids.slice(0, 10).join(', ')}`, field);
}

export class RoomService {
  constructor(private readonly deps: RoomServiceDeps) {}

  async createDirect(user: User, peerUserId: string): Promise<{ room: Room; created: boolean }> {
    if (peerUserId === user.id) throw appError('invalid-request', 'cannot open a direct room with yourself', 'peerUserId');
    if ((await this.deps.store.addableUserIds(user.id, [peerUserId])).length === 0) throw cannotAdd('peerUserId', [peerUserId]);
    // The caller's own block is no secret to the caller: lift it first (opening the room would give them access).
    if (await this.deps.store.hasBlocked(user.id, peerUserId)) throw appError('conflict', 'you have blocked this user: unblock them first', 'peerUserId');
    const peer = (await this.deps.store.findUserById(peerUserId))!;
    await this.checkCreationRate(user);
    const result = await this.deps.store.findOrCreateDirectRoom(user.id, peerUserId, `${user.nickname}, ${peer.nickname}`);
    const told = result.created ? [user.id, peerUserId] : result.restored;
    await Promise.all(told.map((u) => this.deps.events.userQuietly(u, 'room-added', { room: result.room })));
    return result;
  }

  async createGroup(user: User, name: string, memberIds: readonly string[], visibility: RoomVisibility): Promise<Room> {
    const wanted = [...new Set(memberIds.filter((id) => id !== user.id))];
    const addable = new Set(await this.deps.store.addableUserIds(user.id, wanted));
    const refused = wanted.filter((id) => !addable.has(id));
    if (refused.length > 0) throw cannotAdd('memberIds', refused);
    await this.checkCreationRate(user);
    const room = await this.deps.store.createGroupRoom(user.id, name, wanted, visibility);
    await Promise.all([user.id, ...wanted].map((u) => this.deps.events.userQuietly(u, 'room-added', { room })));
    return room;
  }

  /** A cap on how fast one account can create rooms (and so push rooms onto other people's lists). */
  private async checkCreationRate(user: User): Promise<void> {
    const since = new Date(Date.now() - 3_600_000);
    if ((await this.deps.store.countRoomsCreatedSince(user.id, since)) >= this.deps.roomsPerUserPerHour) {
      throw appError('rate-limited', `at most ${this.deps.roomsPerUserPerHour} rooms per hour`);
    }
  }

  async get(user: User, roomId: string): Promise<Room & { members: MemberView[] }> {
    await this.deps.membership.require(roomId, user.id);
    const room = await this.deps.store.getRoom(roomId);
    if (!room) throw appError('forbidden', FORBIDDEN);
    const [members, positions] = await Promise.all([this.deps.store.listMembers(roomId), this.deps.reads.positions(roomId)]);
    return { ...room, members: members.map((m) => ({ ...m, lastReadSeq: positions.get(m.userId) ?? m.lastReadSeq })) };
  }

  /** Public GROUP rooms are open to all; private ones only to users a member invited. */
  async join(user: User, roomId: string): Promise<Room> {
    const room = await this.deps.store.getRoom(roomId);
    // One answer for "no such room", "not a group" and "not invited": nothing to learn about private rooms.
    const allowed =
      room !== null &&
      room.type === 'GROUP' &&
      (room.visibility === 'public' || (await this.deps.store.isMember(roomId, user.id)) || (await this.deps.store.isInvited(roomId, user.id)));
    if (!allowed) throw appError('forbidden', 'this room cannot be joined (private rooms need an invitation)');
    if (await this.deps.store.addMember(roomId, user.id)) {
      await dropFailure(this.deps.bus.publishMembership({ roomId, userId: user.id, change: 'joined' }), 'membership-event', this.deps.events.dropped);
      await this.deps.events.roomQuietly(roomId, 'member-joined', { userId: user.id, nickname: user.nickname });
    }
    return room!;
  }

  /**
   * Leaving ends access everywhere: the store refuses the user's sends from the moment this commits, and the
   * membership event makes every gateway drop the user's subscriptions to the room (gateways also re-check
   * their subscriptions against the store every few seconds, in case the event was lost).
   */
  async leave(user: User, roomId: string): Promise<void> {
    // Idempotent and silent about the room: leaving a room one is not in (or that does not exist) answers the
    // same as leaving one's own, so the answer reveals nothing.
    await this.remove(roomId, user.id, 'left');
  }

  /**
   * Ends a user's membership (`left`: their own leave; `removed`: someone else's doing, e.g. the peer of a DIRECT
   * room blocked them): the store first, then every gateway drops their subscriptions, then the events.
   */
  async remove(roomId: string, userId: string, reason: 'left' | 'removed'): Promise<void> {
    const removed = await this.deps.store.removeMember(roomId, userId);
    this.deps.membership.forget(roomId, userId);
    // Sends may still pass on a membership lease granted before the commit: this returns only once they cannot.
    const leasesEnded = this.deps.membership.leasesEnded(roomId, userId);
    // Announced even when already gone: a retried leave re-sends the revocation (no-op where nothing is subscribed).
    await dropFailure(this.deps.bus.publishMembership({ roomId, userId, change: 'left' }), 'membership-event', this.deps.events.dropped);
    if (removed) {
      await this.deps.events.roomQuietly(roomId, 'member-left', { userId });
      await this.deps.events.userQuietly(userId, 'room-removed', { roomId, reason });
    }
    await leasesEnded;
  }

  /** A member invites someone to a private GROUP room; the invitee joins with POST /join. */
  async invite(user: User, roomId: string, inviteeId: string): Promise<void> {
    await this.deps.membership.require(roomId, user.id);
    const room = await this.deps.store.getRoom(roomId);
    if (!room || room.type !== 'GROUP') throw appError('forbidden', 'only GROUP rooms take invitations');
    if ((await this.deps.store.addableUserIds(user.id, [inviteeId])).length === 0) throw cannotAdd('userId', [inviteeId]);
    await this.deps.store.invite(roomId, inviteeId, user.id);
    await this.deps.events.userQuietly(inviteeId, 'room-invited', { room, invitedBy: user.id });
  }

  /** The caller's rooms, by id, a page at a time (`nextCursor` is the `after` of the next page, or null). */
  async list(user: User, page: { limit: number; after?: string | null }): Promise<{ rooms: RoomListItem[]; nextCursor: string | null }> {
    const rows = await this.deps.store.listRoomsForUser(user.id, { limit: page.limit + 1, afterId: page.after ?? null });
    const more = rows.length > page.limit;
    const rooms = rows.slice(0, page.limit);
    const unread = await this.deps.reads.unreadForRooms(user.id, rooms);
    const items = await Promise.all(
      rooms.map(async (r) => ({
        id: r.id,
        name: r.name,
        type: r.type,
        visibility: r.visibility,
        members: r.members,
        createdAt: r.createdAt,
        unreadCount: unread.get(r.id) ?? 0,
        lastMessage: r.lastMessage ? (await this.deps.reads.views(r.id, [r.lastMessage]))[0]! : null,
        ...(r.peer ? { peer: r.peer } : {}),
      })),
    );
    return { rooms: items, nextCursor: more ? rooms[rooms.length - 1]!.id : null };
  }
}
