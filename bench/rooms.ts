// Rooms of the load scenarios: users and group rooms created through our REST API (signup is deliberately
// slow, scrypt: a few at a time), and the driver's client descriptions for each target — ours, RabbitMQ
// Web-STOMP and the Socket.IO reference server — with the same rooms x members shape.
import { Api, type Account } from '../test/support/api.js';
import type { ServerProc } from '../test/support/cluster.js';
import type { ClientSpec } from './driver/ipc.js';
import { mapLimit, progress } from './lib.js';

export interface World {
  rooms: Array<{ id: string; members: Account[] }>;
}

/** rooms x members users (member 0 owns the room), created on `server` 8 at a time. */
export async function createWorld(server: ServerProc, rooms: number, members: number, prefix: string): Promise<World> {
  const api = new Api(server.baseUrl);
  progress(`signing up ${rooms * members} users (scrypt: 8 at a time)`);
  const users = await api.users(rooms * members, prefix);
  const groups = Array.from({ length: rooms }, (_, r) => users.slice(r * members, (r + 1) * members));
  const ids = await mapLimit(groups, 4, (m, r) => api.group(m[0]!, m.slice(1), `${prefix}-${r}-${Date.now()}`));
  progress(`${rooms} rooms of ${members} created`);
  return { rooms: groups.map((m, r) => ({ id: ids[r]!, members: m })) };
}

/** `n` users for connection-only scenarios (tokens reused round-robin by the clients). */
export async function createUsers(server: ServerProc, n: number, prefix: string): Promise<Account[]> {
  progress(`signing up ${n} users (scrypt: 8 at a time)`);
  return new Api(server.baseUrl).users(n, prefix);
}

/**
 * Heart-beats both ways every 10 s for every STOMP client of a bench, ours and RabbitMQ's alike: RabbitMQ
 * Web-STOMP (cowboy's idle_timeout, 60 s) closes a WebSocket that sent nothing for a minute, which a silent
 * subscriber otherwise is (a 2,000 msgs/s step once lost 180 of 200 connections to it mid-run).
 */
export const STOMP_HEARTBEAT: [number, number] = [10_000, 10_000];

/**
 * Our clients: every member a WebSocket STOMP subscriber of `/topic/rooms.<id>`, member 0 the room's sender;
 * member m of room r on instance (r + m) mod instances, so each room spans the instances and the rooms' senders
 * alternate between them; a room's clients share a driver worker.
 */
export function ourClients(world: World, servers: readonly ServerProc[], workers: number): ClientSpec[] {
  const out: ClientSpec[] = [];
  let k = 0;
  world.rooms.forEach((room, r) => {
    const destination = `/topic/rooms.${room.id}`;
    room.members.forEach((user, m) => {
      const server = servers[(r + m) % servers.length]!;
      out.push({
        id: k++,
        transport: 'ws',
        url: server.wsUrl,
        connectHeaders: { Authorization: `Bearer ${user.token}` },
        heartbeat: STOMP_HEARTBEAT,
        subscribe: [{ room: r, destination }],
        ...(m === 0 ? { send: { room: r, destination } } : {}),
        worker: r % workers,
      });
    });
  });
  return out;
}

/** RabbitMQ Web-STOMP clients (guest/guest), destination `/topic/room.<n>`, same shape as ourClients. */
export function rabbitClients(url: string, rooms: number, members: number, workers: number): ClientSpec[] {
  return sameShape(rooms, members, workers, (r) => `/topic/room.${r}`, {
    transport: 'ws',
    url,
    connectHeaders: { login: 'guest', passcode: 'guest', host: '/' },
    heartbeat: STOMP_HEARTBEAT,
  });
}

/** Socket.IO clients of the reference server, room name `room.<n>`, same shape as ourClients. */
export function socketIoClients(url: string, rooms: number, members: number, workers: number): ClientSpec[] {
  return sameShape(rooms, members, workers, (r) => `room.${r}`, { transport: 'socketio', url });
}

function sameShape(
  rooms: number,
  members: number,
  workers: number,
  dest: (r: number) => string,
  base: Pick<ClientSpec, 'transport' | 'url' | 'connectHeaders' | 'heartbeat'>,
): ClientSpec[] {
  const out: ClientSpec[] = [];
  for (let r = 0; r < rooms; r++) {
    const destination = dest(r);
    for (let m = 0; m < members; m++) {
      out.push({
        ...base,
        id: r * members + m,
        subscribe: [{ room: r, destination }],
        ...(m === 0 ? { send: { room: r, destination } } : {}),
        worker: r % workers,
      });
    }
  }
  return out;
}

/**
 * Server environment for a bench: MODE=cluster, and SEND rate limits raised only when one room's sender would
 * exceed the defaults (200/s per connection, 400/s per user), so the driver's schedule is never refused.
 */
export function serverEnv(maxRatePerRoom: number): Record<string, string> {
  const env: Record<string, string> = { MODE: 'cluster' };
  if (maxRatePerRoom > 150) {
    const per = String(Math.ceil(maxRatePerRoom * 2));
    Object.assign(env, { RATE_CONN_PER_SEC: per, RATE_CONN_BURST: per, RATE_USER_PER_SEC: per, RATE_USER_BURST: per });
    progress(`one sender sends up to ${Math.ceil(maxRatePerRoom)} msgs/s: server SEND rate limits raised to ${per}/s for this bench`);
  }
  return env;
}
