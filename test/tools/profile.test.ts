// The profile summary: self time by library, socket writes attributed to the library that wrote, over the steady
// window of the load only.
import { describe, expect, it } from 'vitest';
import { categorize, type CpuProfile, type ProfileNode } from '../../bench/profile.js';

const node = (id: number, functionName: string, url: string, children: number[] = []): ProfileNode => ({ id, callFrame: { functionName, url }, children });

describe('categorize', () => {
  // root -> ws send -> (native) writev; root -> kafkajs decode; root -> ours hub; root -> (idle)
  const nodes = [
    node(1, '(root)', '', [2, 4, 5, 6]),
    node(2, 'send', 'file:///app/node_modules/ws/lib/sender.js', [3]),
    node(3, 'writev', ''),
    node(4, 'decode', 'file:///app/node_modules/kafkajs/src/protocol/decoder.js'),
    node(5, 'emit', 'file:///app/dist/src/fanout/hub.js'),
    node(6, '(idle)', ''),
  ];

  it('counts the steady seconds only, and a write under ws as a socket write by ws', () => {
    // 20 s at 1 ms per sample: 3 quiet seconds (idle), 14 loaded seconds, 3 quiet seconds.
    const samples: number[] = [];
    for (let s = 0; s < 20; s++)
      for (let i = 0; i < 1000; i++) {
        const loaded = s >= 3 && s < 17;
        samples.push(!loaded ? (i < 50 ? 4 : 6) : i < 400 ? 3 : i < 600 ? 4 : i < 700 ? 5 : 6);
      }
    const profile: CpuProfile = { nodes, startTime: 0, samples, timeDeltas: samples.map(() => 1000) };
    const r = categorize(profile, 2);
    // The loaded stretch is seconds 3-16; trimmed by 2 s at each end: 5-14, 10 s.
    expect(r.windowS).toBe(10);
    expect(r.busy).toBe(10 * 700);
    expect(r.counts.get('socket writes by ws')).toBe(10 * 400);
    expect(r.counts.get('kafkajs')).toBe(10 * 200);
    expect(r.counts.get('ours: src/fanout')).toBe(10 * 100);
  });

  it('finds the steady stretch behind a start-up second twice as busy as the load', () => {
    // 1 s of start-up at 100 % busy, then 16 s at 45 %, then 3 quiet seconds.
    const samples: number[] = [];
    for (let s = 0; s < 20; s++) for (let i = 0; i < 1000; i++) samples.push(s === 0 ? 5 : s < 17 && i < 450 ? 4 : 6);
    const r = categorize({ nodes, startTime: 0, samples, timeDeltas: samples.map(() => 1000) }, 2);
    // The loaded stretch is seconds 0-16 (start-up included); trimmed by 2 s at each end: 2-14, 13 s.
    expect(r.windowS).toBe(13);
    expect(r.counts.get('kafkajs')).toBe(13 * 450);
    expect(r.counts.get('ours: src/fanout')).toBeUndefined();
  });
});
