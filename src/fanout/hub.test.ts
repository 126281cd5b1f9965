// The hub over the in-process bus: a room's messages reach every local subscriber once, in seq order; a gap the
// bus left is repaired from the store before later messages; a member who leaves loses every subscription at once
// (and the periodic re-check catches a lost membership event); presence reaches the rooms' event subscribers.
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import type { PreparedMessage } from '../../protocol/index.js';
import { createMetrics } from '../metrics/metrics.js';
import type { ChatMessage, MessageView } from '../shared/model.js';
import { topics } from './fanout.js';
import { Hub, type HubDeps, type RoomSubscriber, type TopicSubscriber } from './hub.js';
import type { LiveMessage } from './live.js';
import { MemoryFanoutBus } from './memory.js';

const view = (roomId: string, seq: number): MessageView => ({
  id: `m-${roomId}-${seq}`,
  roomId,
  seq: String(seq),
  senderId: '1',
  type: 'TEXT',
  content: `c${seq}`,
  createdAt: new Date().toISOString(),
  unreadCount: 1,
});
const stored = (roomId: string, seq: number): ChatMessage => ({ ...view(roomId, seq), idempotencyKey: null, partition: 0, offset: String(seq - 1) });

class Sub implements RoomSubscriber, TopicSubscriber {
  seqs: string[] = [];
  events: string[] = [];
  revoked: string[] = [];
  constructor(readonly userId: string) {}
  push(m: LiveMessage): void {
    this.seqs.push(m.view.seq);
  }
  pushEvent(frame: PreparedMessage): void {
    this.events.push(frame.frameFor('s').toString('utf8'));
  }
  revoke(roomId: string): void {
    this.revoked.push(roomId);
  }
}

const tick = () => new Promise((r) => setTimeout(r, 5));

function makeHub(over: Partial<HubDeps> = {}) {
  const bus = new MemoryFanoutBus();
  const store = new Map<string, ChatMessage[]>();
  const revoked: string[] = [];
  const hub = new Hub({
    bus,
    repair: async (roomId, after, upTo, deliver) => {
      const page = (store.get(roomId) ?? []).filter((m) => BigInt(m.seq) > after && BigInt(m.seq) <= upTo);
      if (page.length) await deliver(page);
      return { complete: true };
    },
    views: async (_roomId, list) => list.map((m) => ({ ...view(m.roomId, Number(m.seq)) })),
    areMembers: async (pairs) => pairs.map(() => true),
    onRevoked: (roomId, userId) => revoked.push(`${roomId}:${userId}`),
    log: pino({ level: 'silent' }),
    metrics: createMetrics('hub-test'),
    ...over,
  });
  return { hub, bus, store, revoked };
}

describe('Hub', () => {
  it('delivers each room batch to every local subscriber once, in seq order, and drops redeliveries', async () => {
    const { hub, bus } = makeHub();
    const a = new Sub('1');
    const b = new Sub('2');
    await hub.addRoomSubscriber('10', a);
    await hub.addRoomSubscriber('10', b);
    await bus.publishRoom('10', [view('10', 1), view('10', 2)]);
    await bus.publishRoom('10', [view('10', 3)]);
    await tick();
    expect(a.seqs).toEqual(['1', '2', '3']);
    expect(b.seqs).toEqual(['1', '2', '3']);
    expect(hub.lastSeq('10')).toBe(3n);
  });

  it('repairs a gap (prevSeq above the last delivered seq) from the store before delivering the batch', async () => {
    const { hub, store } = makeHub();
    const a = new Sub('1');
    let onBatch!: (b: { roomId: string; prevSeq: string; messages: MessageView[] }) => void;
    const bus = new MemoryFanoutBus();
    bus.subscribeRoom = async (_roomId, fn) => void (onBatch = fn);
    const { hub: h2 } = makeHub({ bus, repair: (hub as unknown as { deps: HubDeps }).deps.repair });
    void hub;
    store.set('20', [stored('20', 2), stored('20', 3), stored('20', 4)]);
    await h2.addRoomSubscriber('20', a);
    onBatch({ roomId: '20', prevSeq: '0', messages: [view('20', 1)] });
    // The bus lost seqs 2..4: the next batch says its predecessor was 4.
    onBatch({ roomId: '20', prevSeq: '4', messages: [view('20', 5)] });
    await tick();
    expect(a.seqs).toEqual(['1', '2', '3', '4', '5']);
  });

  it('a member who left loses every local subscription to the room and its events at once; others keep theirs', async () => {
    const { hub, bus, revoked } = makeHub();
    await bus.listenControl({ membership: (c) => hub.onMembership(c), presence: (c) => hub.onPresence(c) });
    hub.start();
    const leaver = new Sub('7');
    const stayer = new Sub('8');
    await hub.addRoomSubscriber('30', leaver);
    await hub.addRoomSubscriber('30', stayer);
    await hub.addTopicSubscriber(topics.roomEvents('30'), '/topic/rooms.30.events', '30', leaver);
    await bus.publishMembership({ roomId: '30', userId: '7', change: 'left' });
    await tick();
    expect(leaver.revoked).toEqual(['30', '30']);
    expect(revoked).toEqual(['30:7']);
    await bus.publishRoom('30', [view('30', 1)]);
    await tick();
    expect(leaver.seqs).toEqual([]);
    expect(stayer.seqs).toEqual(['1']);
    hub.close();
  });

  it('the periodic re-check revokes subscriptions whose user is no longer a member (a lost membership event)', async () => {
    const members = new Set(['2']);
    const { hub } = makeHub({ areMembers: async (pairs) => pairs.map((p) => members.has(p.userId)), recheckMs: 20 });
    hub.start();
    const gone = new Sub('1');
    const member = new Sub('2');
    await hub.addRoomSubscriber('40', gone);
    await hub.addRoomSubscriber('40', member);
    await new Promise((r) => setTimeout(r, 80));
    expect(gone.revoked).toEqual(['40']);
    expect(member.revoked).toEqual([]);
    hub.close();
  });

  it("one presence change reaches the .events subscribers of each of the user's rooms on this instance", async () => {
    const { hub, bus } = makeHub();
    await bus.listenControl({ membership: (c) => hub.onMembership(c), presence: (c) => hub.onPresence(c) });
    hub.start();
    const r1 = new Sub('5');
    const r2 = new Sub('6');
    const other = new Sub('7');
    await hub.addTopicSubscriber(topics.roomEvents('51'), '/topic/rooms.51.events', '51', r1);
    await hub.addTopicSubscriber(topics.roomEvents('52'), '/topic/rooms.52.events', '52', r2);
    await hub.addTopicSubscriber(topics.roomEvents('53'), '/topic/rooms.53.events', '53', other);
    await bus.publishPresence({ userId: '9', status: 'ONLINE', lastSeenAt: new Date().toISOString(), roomIds: ['51', '52'] });
    await tick();
    expect(r1.events).toHaveLength(1);
    expect(r1.events[0]).toContain('event-type:presence');
    expect(r1.events[0]).toContain('destination:/topic/rooms.51.events');
    expect(r2.events).toHaveLength(1);
    expect(other.events).toHaveLength(0);
    hub.close();
  });

  it('the last local subscriber leaving ends the bus subscription', async () => {
    const { hub, bus } = makeHub();
    const a = new Sub('1');
    await hub.addRoomSubscriber('60', a);
    hub.removeRoomSubscriber('60', a);
    await bus.publishRoom('60', [view('60', 1)]);
    await tick();
    expect(a.seqs).toEqual([]);
    expect(hub.lastSeq('60')).toBeNull();
  });
});
