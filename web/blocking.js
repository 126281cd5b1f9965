// Blocking people: a Block / Unblock button wherever a person is listed, and the "Blocked people" list of the
// sidebar (GET /api/users/blocked). Someone you block cannot add you to rooms or open a direct room with you.
import { $, h } from './dom.js';

export class Blocking {
  /** @param {import('./api.js').Api} api */
  constructor(api) {
    this.api = api;
    /** @type {Map<string, { id: string, nickname: string }>} */
    this.blocked = new Map();
  }

  async refresh() {
    try {
      const res = await this.api.blocked();
      this.blocked = new Map(res.users.map((u) => [u.id, u]));
    } catch {
      return; // offline: the list stays as it was
    }
    this.render();
  }

  render() {
    const people = [...this.blocked.values()];
    $('blocked-empty').hidden = people.length > 0;
    $('blocked-list').replaceChildren(...people.map((u) => h('li', { dataset: { userId: u.id } }, h('span', {}, u.nickname), this.button(u))));
  }

  /** A button that blocks `user`, or unblocks them when they are blocked; it follows the state everywhere it is shown. */
  button(user) {
    const label = () => (this.blocked.has(user.id) ? 'Unblock' : 'Block');
    const b = h(
      'button',
      { type: 'button', class: 'button secondary small', dataset: { blockUserId: user.id }, 'aria-label': `${label()} ${user.nickname}` },
      label(),
    );
    b.addEventListener('click', async () => {
      b.disabled = true;
      try {
        if (this.blocked.has(user.id)) await this.api.unblock(user.id);
        else await this.api.block(user.id);
        await this.refresh();
      } catch (err) {
        $('announcer').textContent = `Could not change the block: ${err.message}`;
      } finally {
        b.disabled = false;
        for (const other of document.querySelectorAll(`[data-block-user-id="${user.id}"]`)) {
          other.textContent = label();
          other.setAttribute('aria-label', `${label()} ${user.nickname}`);
        }
      }
    });
    return b;
  }
}
