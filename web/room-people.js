// The open room's people: the member list with presence, the header line (the peer's presence in a DIRECT room, the
// online count in a group), and who is typing (each name shown for a few seconds after their last typing event).
import { clockTime, h, joinNames } from './dom.js';

const TYPING_SHOW_MS = 3500;

/** @typedef {import('./timeline.js').Member} Member */

export class RoomPeople {
  /**
   * @param {{ members: HTMLElement, sub: HTMLElement, typing: HTMLElement }} el
   * @param {{ me: () => { id: string }, nick: (userId: string) => string }} deps
   */
  constructor(el, deps) {
    this.el = el;
    this.deps = deps;
    /** @type {Map<string, ReturnType<typeof setTimeout>>} userId -> when their name goes */
    this.typing = new Map();
  }

  startTyping(userId) {
    clearTimeout(this.typing.get(userId));
    this.typing.set(
      userId,
      setTimeout(() => this.stopTyping(userId), TYPING_SHOW_MS),
    );
    this.renderTyping();
  }

  stopTyping(userId) {
    if (!this.typing.has(userId)) return;
    clearTimeout(this.typing.get(userId));
    this.typing.delete(userId);
    this.renderTyping();
  }

  renderTyping() {
    const names = [...this.typing.keys()].map((id) => this.deps.nick(id));
    this.el.typing.textContent = names.length === 0 ? '' : `${joinNames(names)} ${names.length === 1 ? 'is' : 'are'} typing…`;
  }

  /** @param {Map<string, Member>} members @param {{ type?: string } | null} room */
  renderMembers(members, room) {
    const me = this.deps.me().id;
    const list = [...members.values()].sort((a, b) => (a.userId === me ? 1 : b.userId === me ? -1 : a.nickname.localeCompare(b.nickname)));
    this.el.members.replaceChildren(
      ...list.map((m) =>
        h(
          'li',
          { dataset: { userId: m.userId, status: m.status } },
          h('span', { class: `dot${m.status === 'ONLINE' ? ' online' : ''}`, 'aria-hidden': 'true' }),
          `${m.nickname}${m.userId === me ? ' (you)' : ''} — ${presenceText(m)}`,
        ),
      ),
    );
    if (room?.type === 'DIRECT') {
      const peer = list.find((m) => m.userId !== me);
      this.el.sub.textContent = peer ? presenceText(peer) : '';
      this.el.sub.dataset.status = peer?.status ?? '';
    } else {
      const online = list.filter((m) => m.status === 'ONLINE').length;
      this.el.sub.textContent = `${list.length} members · ${online} online`;
    }
  }

  clear() {
    for (const t of this.typing.values()) clearTimeout(t);
    this.typing.clear();
    this.el.members.replaceChildren();
    this.el.typing.textContent = '';
  }
}

/** @param {Member} m */
function presenceText(m) {
  if (m.status === 'ONLINE') return 'online';
  return m.lastSeenAt ? `offline · last seen ${clockTime(m.lastSeenAt)}` : 'offline';
}
