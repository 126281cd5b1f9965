// A room message ready for the wire: encoded once per process, `frame.frameFor(subscriptionId, …)` per subscriber.
import { PreparedMessage } from '../../protocol/index.js';
import type { MessageView } from '../shared/model.js';

export interface LiveMessage {
  seq: bigint;
  view: MessageView;
  frame: PreparedMessage;
}

export function roomDestination(roomId: string): string {
  return `/topic/rooms.${roomId}`;
}

/** The MESSAGE headers of API.md for a room message (without `subscription`, which differs per subscriber). */
export function prepareLive(view: MessageView): LiveMessage {
  const frame = new PreparedMessage(
    {
      'message-id': view.id,
      destination: roomDestination(view.roomId),
      'content-type': 'application/json',
      seq: view.seq,
      'room-id': view.roomId,
      'sender-id': view.senderId,
      'message-type': view.type,
      'created-at': view.createdAt,
    },
    Buffer.from(JSON.stringify(view)),
  );
  return { seq: BigInt(view.seq), view, frame };
}
