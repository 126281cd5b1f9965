// The web client: sign up / log in, the room list (unread counts and last message, live from
// /user/queue/notifications), starting conversations, and the wiring of the connection, outbox and room view.
import { Api } from './api.js';
import { Blocking } from './blocking.js';
import { Connection } from './connection.js';
import { $, big, clockTime, h } from './dom.js';
import { OpsConsole } from './ops/console.js';
import { contentProblem, Outbox } from './outbox.js';
import { RoomView } from './room-view.js';

const TOKEN_KEY = 'chat.token';
const USER_KEY = 'chat.user';

const state = {
  /** @type {string | null} */ token: sessionStorage.getItem(TOKEN_KEY),
  /** @type {{ id: string, email: string, nickname: string } | null} */ me: null,
  /** @type {Connection | null} */ conn: null,
  /** @type {Map<string, any>} */ rooms: new Map(),
  /** @type {Map<string, string>} userId -> nickname */ nicknames: new Map(),
  /** @type {Map<string, string>} DIRECT room id -> the other member's nickname */ peers: new Map(),
  openRoomId: null,
  roomsTimer: 0,
  roomsLateTimer: 0,
  /**
   * Unread counts from `unread` events since the current session connected. They win over GET /api/rooms,
   * whose counts are over *stored* messages and lag behind while the persist consumer catches up.
   * @type {Map<string, number>}
   */
  liveUnread: new Map(),
  roomsGen: 0,
};

const api = new Api(
  () => state.token,
  () => logout('Your session has expired. Please log in again.'),
);
const ops = new OpsConsole({ api, conn: () => state.conn });
const blocking = new Blocking(api);
const outbox = new Outbox(
  () => state.conn,
  (entry) => view.onOutboxChange(entry),
);
const view = new RoomView({
  api,
  outbox,
  me: () => state.me,
  conn: () => state.conn,
  nicknames: state.nicknames,
  onMessage: (m) => {
    const room = state.rooms.get(m.roomId);
    if (room && (!room.lastMessage || big(m.seq) >= big(room.lastMessage.seq))) {
      room.lastMessage = m;
      renderRooms();
    }
  },
  onDetail: (detail) => {
    if (detail.type === 'DIRECT') {
      const peer = detail.members.find((m) => m.userId !== state.me?.id);
      if (peer && state.peers.get(detail.id) !== peer.nickname) {
        state.peers.set(detail.id, peer.nickname);
        renderRooms();
      }
    }
  },
  onClosed: (roomId, why) => {
    state.openRoomId = null;
    state.rooms.delete(roomId);
    renderRooms();
    $('room-placeholder').querySelector('p').textContent = why;
  },
});

// --- sign up / log in ---------------------------------------------------------------------------

let authMode = /** @type {'login' | 'signup'} */ ('login');

function setAuthMode(mode) {
  authMode = mode;
  const signup = mode === 'signup';
  $('tab-login').setAttribute('aria-pressed', String(!signup));
  $('tab-signup').setAttribute('aria-pressed', String(signup));
  $('auth-title').textContent = signup ? 'Create an account' : 'Log in';
  $('auth-submit').textContent = signup ? 'Sign up' : 'Log in';
  $('nickname-field').hidden = !signup;
  $('password-hint').hidden = !signup;
  /** @type {HTMLInputElement} */ ($('auth-nickname')).required = signup;
  $('auth-password').setAttribute('autocomplete', signup ? 'new-password' : 'current-password');
  $('auth-error').textContent = '';
}

$('tab-login').addEventListener('click', () => setAuthMode('login'));
$('tab-signup').addEventListener('click', () => setAuthMode('signup'));

// The submit handlers show their own failures in the form: nothing is left for the event loop to catch.
$('auth-form').addEventListener('submit', (e) => void submitAuth(e));
async function submitAuth(e) {
  e.preventDefault();
  const email = /** @type {HTMLInputElement} */ ($('auth-email')).value.trim();
  const password = /** @type {HTMLInputElement} */ ($('auth-password')).value;
  const nickname = /** @type {HTMLInputElement} */ ($('auth-nickname')).value.trim();
  const error = $('auth-error');
  const problem =
    !email || !email.includes('@')
      ? ['auth-email', 'Enter your email address.']
      : authMode === 'signup' && !nickname
        ? ['auth-nickname', 'Choose a nickname.']
        : authMode === 'signup' && password.length < 8
          ? ['auth-password', 'The password needs at least 8 characters.']
          : !password
            ? ['auth-password', 'Enter your password.']
            : null;
  if (problem) {
    error.textContent = problem[1];
    $(problem[0]).focus();
    return;
  }
  const submit = /** @type {HTMLButtonElement} */ ($('auth-submit'));
  submit.disabled = true;
  error.textContent = '';
  try {
    const res = authMode === 'signup' ? await api.signup(email, password, nickname) : await api.login(email, password);
    sessionStorage.setItem(TOKEN_KEY, res.accessToken);
    sessionStorage.setItem(USER_KEY, JSON.stringify(res.user));
    state.token = res.accessToken;
    /** @type {HTMLFormElement} */ ($('auth-form')).reset();
    startChat(res.user);
  } catch (err) {
    error.textContent =
      err.code === 'email-taken'
        ? 'An account with this email exists already. Log in instead.'
        : err.code === 'invalid-credentials'
          ? 'Wrong email or password.'
          : err.message;
  } finally {
    submit.disabled = false;
  }
}

function showAuth(message = '') {
  $('chat-view').hidden = true;
  $('whoami').hidden = true;
  $('conn').hidden = true;
  $('auth-view').hidden = false;
  setAuthMode('login');
  $('auth-error').textContent = message;
  $('auth-email').focus();
}

function logout(message = '') {
  ops.stop();
  state.conn?.stop();
  state.conn = null;
  view.close();
  sessionStorage.removeItem(TOKEN_KEY);
  sessionStorage.removeItem(USER_KEY);
  Object.assign(state, { token: null, me: null, openRoomId: null });
  state.rooms.clear();
  state.peers.clear();
  blocking.blocked.clear();
  outbox.entries = [];
  renderRooms();
  showAuth(message);
}

$('logout').addEventListener('click', () => logout());

// --- the chat -----------------------------------------------------------------------------------

function startChat(user) {
  state.me = user;
  state.nicknames.set(user.id, user.nickname);
  $('me-name').textContent = user.nickname;
  $('auth-view').hidden = true;
  $('chat-view').hidden = false;
  $('whoami').hidden = false;
  $('conn').hidden = false;
  $('room-placeholder').querySelector('p').textContent = 'Choose a conversation, or start a new one.';
  void loadRooms();
  void blocking.refresh();
  state.conn = new Connection({
    url: null,
    token: state.token,
    onConnect: onConnect,
    onState: (s, detail) => {
      const el = $('conn');
      el.dataset.state = s;
      el.textContent = detail;
      view.onConnectionState();
    },
    onError: (frame) => {
      if (view.onSubscribeError(frame)) return;
      outbox.onError(frame);
    },
    onAuthFailed: () => logout('Your session has expired. Please log in again.'),
  });
  state.conn.start();
  void ops.start(user);
  $('new-room').focus();
}

/** Every (re)connect: our notification queue, the open room from its newest seq, then unsent messages. */
function onConnect(conn) {
  // Events missed while disconnected: the counts of the catch-up GET below stand until new events come.
  state.liveUnread.clear();
  conn.subscribe('/user/queue/notifications', (frame) => {
    let body;
    try {
      body = JSON.parse(frame.body);
    } catch {
      return;
    }
    const type = frame.headers['event-type'];
    if (type === 'unread') {
      state.liveUnread.set(body.roomId, body.unreadCount);
      const room = state.rooms.get(body.roomId);
      if (room) {
        room.unreadCount = body.unreadCount;
        renderRooms();
      }
      scheduleRoomsRefresh(); // the event has no message: fetch the last message once things settle
    } else if (type === 'room-removed' && body.roomId) {
      // Left here or elsewhere, or removed (a direct room whose other member blocked us): gone from the list.
      if (state.openRoomId === body.roomId) {
        view.close();
        state.openRoomId = null;
        $('room-placeholder').querySelector('p').textContent = 'You are no longer in that conversation.';
      }
      state.rooms.delete(body.roomId);
      renderRooms();
    } else if (type === 'room-added' && body.room) {
      if (!state.rooms.has(body.room.id)) {
        state.rooms.set(body.room.id, { unreadCount: 0, lastMessage: null, members: null, ...body.room });
        renderRooms();
      }
      scheduleRoomsRefresh();
    }
  });
  view.attach(conn);
  ops.attach(conn);
  outbox.flush();
  void loadRooms(); // counts that changed while we were away
}

async function loadRooms() {
  const gen = ++state.roomsGen;
  let res;
  try {
    res = await api.rooms();
  } catch {
    return;
  }
  if (gen !== state.roomsGen || !state.me) return;
  const seen = new Set();
  for (const r of res.rooms) {
    seen.add(r.id);
    const known = state.rooms.get(r.id);
    // A newer last message seen live is kept over an older answer.
    if (known?.lastMessage && r.lastMessage && big(known.lastMessage.seq) > big(r.lastMessage.seq)) r.lastMessage = known.lastMessage;
    if (state.liveUnread.has(r.id)) r.unreadCount = state.liveUnread.get(r.id);
    state.rooms.set(r.id, { ...known, ...r });
  }
  for (const id of [...state.rooms.keys()]) if (!seen.has(id)) state.rooms.delete(id);
  renderRooms();
  $('room-list').dataset.loaded = 'true';
}

function scheduleRoomsRefresh() {
  clearTimeout(state.roomsTimer);
  clearTimeout(state.roomsLateTimer);
  state.roomsTimer = setTimeout(() => void loadRooms(), 400);
  // Once more later: the last message comes from storage, which may still have been behind at the first.
  state.roomsLateTimer = setTimeout(() => void loadRooms(), 3000);
}

function roomName(room) {
  if (room.type === 'DIRECT') {
    const peer = state.peers.get(room.id);
    if (peer) return peer;
    // Direct rooms are named "<nickname>, <nickname>": show the other one.
    const parts = String(room.name).split(', ');
    if (parts.length === 2 && state.me) {
      if (parts[0] === state.me.nickname) return parts[1];
      if (parts[1] === state.me.nickname) return parts[0];
    }
  }
  return room.name;
}

function lastActivity(room) {
  return room.lastMessage?.createdAt ?? room.createdAt ?? '';
}

function renderRooms() {
  const list = $('room-list');
  const rooms = [...state.rooms.values()].sort((a, b) => lastActivity(b).localeCompare(lastActivity(a)));
  $('rooms-empty').hidden = rooms.length > 0 || !state.me;
  // Re-rendering replaces the buttons: keep keyboard focus on the same room's button.
  const active = document.activeElement;
  const focusedId = active && list.contains(active) ? active.closest('li')?.getAttribute('data-room-id') : null;
  list.replaceChildren(
    ...rooms.map((room) => {
      const last = room.lastMessage;
      const who = last
        ? last.senderId === state.me?.id
          ? 'You: '
          : room.type === 'GROUP' && state.nicknames.has(last.senderId)
            ? `${state.nicknames.get(last.senderId)}: `
            : ''
        : '';
      const unread = displayedUnread(room);
      return h(
        'li',
        { dataset: { roomId: room.id, unread: String(unread) } },
        h(
          'button',
          { type: 'button', class: 'room-item', 'aria-current': room.id === state.openRoomId ? 'true' : null, onclick: () => void openRoom(room.id) },
          h('span', { class: 'room-name' }, roomName(room)),
          unread > 0 ? h('span', { class: 'badge' }, String(unread), h('span', { class: 'sr-only' }, ' unread')) : h('span'),
          h(
            'span',
            { class: 'room-last' },
            last ? `${who}${last.content}` : 'No messages yet',
            last ? h('span', { class: 'sr-only' }, `, ${clockTime(last.createdAt)}`) : null,
          ),
        ),
      );
    }),
  );
  if (focusedId) /** @type {HTMLElement | null} */ (list.querySelector(`[data-room-id="${focusedId}"] button`))?.focus();
}

/**
 * The open room's count when everything in it has been marked read is 0, whatever a late `unread` event
 * computed before our read position moved says.
 */
function displayedUnread(room) {
  if (room.id === state.openRoomId && view.allRead()) return 0;
  return room.unreadCount ?? 0;
}

async function openRoom(roomId, focusComposer = true) {
  const room = state.rooms.get(roomId);
  if (!room) return;
  state.openRoomId = roomId;
  renderRooms();
  const opening = view.open({ ...room, displayName: roomName(room) });
  if (focusComposer) $('composer-input').focus();
  try {
    await opening;
  } catch (err) {
    $('composer-error').textContent = `The room could not be loaded: ${err.message}`;
  }
}

$('composer').addEventListener('submit', (e) => {
  e.preventDefault();
  const input = /** @type {HTMLTextAreaElement} */ ($('composer-input'));
  const content = input.value;
  const problem = contentProblem(content);
  $('composer-error').textContent = problem && content.trim() ? problem : '';
  if (problem) return;
  view.send(content);
  input.value = '';
  view.autosize();
});

// --- new conversation ---------------------------------------------------------------------------

const dialog = /** @type {HTMLDialogElement} */ ($('new-room-dialog'));
/** @type {Map<string, { id: string, nickname: string, email?: string }>} */
const selected = new Map();

function dialogKind() {
  return /** @type {HTMLInputElement} */ (dialog.querySelector('input[name=kind]:checked')).value;
}

function renderSelected() {
  const people = [...selected.values()];
  $('selected').textContent = people.length === 0 ? 'nobody yet' : people.map((u) => u.nickname).join(', ');
  $('new-room-create').textContent = dialogKind() === 'GROUP' ? 'Create group' : 'Start';
  for (const b of dialog.querySelectorAll('#search-results button')) {
    const on = selected.has(/** @type {HTMLElement} */ (b).dataset.userId ?? '');
    b.setAttribute('aria-pressed', String(on));
    b.textContent = on ? 'Selected' : 'Select';
  }
}

$('new-room').addEventListener('click', () => {
  selected.clear();
  /** @type {HTMLFormElement} */ ($('new-room-form')).reset();
  $('search-results').replaceChildren();
  $('search-status').textContent = '';
  $('new-room-error').textContent = '';
  $('group-name-field').hidden = true;
  renderSelected();
  dialog.showModal();
  $('user-search').focus();
});

for (const radio of dialog.querySelectorAll('input[name=kind]')) {
  radio.addEventListener('change', () => {
    const group = dialogKind() === 'GROUP';
    $('group-name-field').hidden = !group;
    if (!group && selected.size > 1) {
      const first = selected.values().next().value;
      selected.clear();
      selected.set(first.id, first);
    }
    renderSelected();
  });
}

async function searchUsers() {
  const q = /** @type {HTMLInputElement} */ ($('user-search')).value.trim();
  const status = $('search-status');
  if (!q) {
    status.textContent = 'Type an email address or the start of a nickname.';
    return;
  }
  status.textContent = 'Searching…';
  try {
    const res = await api.searchUsers(q);
    const users = res.users.filter((u) => u.id !== state.me?.id);
    for (const u of users) state.nicknames.set(u.id, u.nickname);
    $('search-results').replaceChildren(
      ...users.map((u) =>
        h(
          'li',
          { dataset: { userId: u.id } },
          h('span', {}, u.nickname, u.email ? h('span', { class: 'muted' }, ` (${u.email})`) : null),
          blocking.button(u),
          h(
            'button',
            {
              type: 'button',
              class: 'button secondary small',
              dataset: { userId: u.id },
              'aria-pressed': 'false',
              'aria-label': `Select ${u.nickname}`,
              onclick: () => {
                if (selected.has(u.id)) selected.delete(u.id);
                else {
                  if (dialogKind() === 'DIRECT') selected.clear();
                  selected.set(u.id, u);
                }
                renderSelected();
              },
            },
            'Select',
          ),
        ),
      ),
    );
    status.textContent = users.length === 0 ? 'Nobody found.' : `${users.length} found.`;
    renderSelected();
  } catch (err) {
    status.textContent = `Search failed: ${err.message}`;
  }
}

$('user-search-go').addEventListener('click', () => void searchUsers());
$('user-search').addEventListener('keydown', (e) => {
  if (e.key === 'Enter') {
    e.preventDefault();
    void searchUsers();
  }
});
$('new-room-cancel').addEventListener('click', () => dialog.close());

$('new-room-form').addEventListener('submit', (e) => void createRoom(e));
async function createRoom(e) {
  e.preventDefault();
  const error = $('new-room-error');
  const kind = dialogKind();
  const people = [...selected.values()];
  const name = /** @type {HTMLInputElement} */ ($('group-name')).value.trim();
  if (kind === 'DIRECT' && people.length !== 1) return void (error.textContent = 'Select the person to talk to.');
  if (kind === 'GROUP' && !name) {
    error.textContent = 'Give the group a name.';
    $('group-name').focus();
    return;
  }
  error.textContent = '';
  const button = /** @type {HTMLButtonElement} */ ($('new-room-create'));
  button.disabled = true;
  try {
    const room =
      kind === 'DIRECT'
        ? await api.createDirect(people[0].id)
        : await api.createGroup(
            name,
            people.map((u) => u.id),
          );
    if (kind === 'DIRECT') state.peers.set(room.id, people[0].nickname);
    if (!state.rooms.has(room.id)) state.rooms.set(room.id, { unreadCount: 0, lastMessage: null, ...room });
    dialog.close();
    await openRoom(room.id);
    scheduleRoomsRefresh();
  } catch (err) {
    error.textContent = err.message;
  } finally {
    button.disabled = false;
  }
}

// --- start ----------------------------------------------------------------------------------------

async function boot() {
  if (typeof StompJs === 'undefined') {
    document.body.prepend(h('p', { class: 'error', role: 'alert' }, 'The STOMP client library did not load (/vendor/stompjs/stomp.umd.min.js).'));
    return;
  }
  if (!state.token) return showAuth();
  try {
    startChat(await api.me());
  } catch (err) {
    if (err.status === 401) return; // logout() already showed the form
    // Offline or the server is restarting: use what we knew; the connection retries by itself.
    const cached = sessionStorage.getItem(USER_KEY);
    if (cached) startChat(JSON.parse(cached));
    else showAuth(err.message);
  }
}

void boot();
