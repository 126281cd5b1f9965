// The fan-out bus port: carries live events from the instance that produced them to every instance.

/**
 * At-most-once: a payload published while an instance's subscriber connection is down is lost for
 * that instance. Room messages therefore carry `prevSeq` so the hub can notice a gap and repair it
 * from the store; events (typing, presence) are ephemeral and may be lost.
 */
export interface FanoutBus {
  publish(channel: string, payload: string): Promise<void>;
  /** Resolves once the subscription is active: anything published after that reaches `onMessage`. */
  subscribe(channel: string, onMessage: (payload: string) => void): Promise<void>;
  unsubscribe(channel: string): Promise<void>;
  close(): Promise<void>;
}

export const channels = {
  room: (roomId: string) => `chat:room:${roomId}`,
  roomEvents: (roomId: string) => `chat:room-events:${roomId}`,
  user: (userId: string) => `chat:user:${userId}`,
};

/** Redis key holding the highest seq broadcast for a room (set atomically with the publish). */
export const lastSeqKey = (roomId: string) => `chat:room-last-seq:${roomId}`;
