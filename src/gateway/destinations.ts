// STOMP destinations of API.md, parsed once at the edge into a room id in its canonical spelling: "/topic/rooms.07"
// names no room (ERROR unknown-destination), so no cache, channel or membership lookup can be keyed by a variant.
import { isCanonicalId } from '../shared/model.js';

export const USER_QUEUE = '/user/queue/notifications';
/** The operations console's live overview (administrators only; src/ops/monitor.ts). */
export const OPS_TOPIC = '/topic/ops';

export type Destination =
  { kind: 'room'; roomId: string } | { kind: 'room-events'; roomId: string } | { kind: 'read'; roomId: string } | { kind: 'user-queue' } | { kind: 'ops' };

const PATTERN = /^(?:\/topic\/rooms\.(\d{1,19})(\.events)?|\/app\/rooms\.(\d{1,19})\.read)$/;

/** null for anything that is not exactly one of API.md's destinations with a canonical room id. */
export function parseDestination(destination: string): Destination | null {
  if (destination === USER_QUEUE) return { kind: 'user-queue' };
  if (destination === OPS_TOPIC) return { kind: 'ops' };
  const m = PATTERN.exec(destination);
  if (!m) return null;
  const roomId = m[1] ?? m[3]!;
  if (!isCanonicalId(roomId)) return null;
  if (m[3] !== undefined) return { kind: 'read', roomId };
  return m[2] ? { kind: 'room-events', roomId } : { kind: 'room', roomId };
}

export function roomEventsDestination(roomId: string): string {
  return `/topic/rooms.${roomId}.events`;
}
