// Codec benchmark: our StompDecoder vs @stomp/stompjs's Parser on the same realistic chat traffic, plus encode
// and fan-out rates. Run: `npm run bench -- codec` (or `npx tsx -e "import('./bench/codec.ts').then(m=>m.run([]))"`).
// Options: --duration=<ms per measurement, default 2000> --repeats=<default 3> --frames=<corpus size, default 2000>

import { randomUUID } from 'node:crypto';
import { appendFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FrameImpl, Parser } from '@stomp/stompjs';
import { PreparedMessage, StompDecoder, encodeFrame } from '../protocol/index.js';

interface Measured {
  /** Frames per second (median of the repeats). */
  fps: number;
  /** Megabytes (10^6 bytes) of frame bytes per second. */
  mbps: number;
}

interface Row {
  op: string;
  ours: Measured;
  stompjs?: Measured;
}

const CHUNK = 16 * 1024;

function option(args: string[], name: string, fallback: number): number {
  const arg = args.find((a) => a.startsWith(`--${name}=`));
  const n = arg === undefined ? fallback : Number(arg.slice(name.length + 3));
  if (!Number.isFinite(n) || n <= 0) throw new Error(`bad --${name}`);
  return n;
}

// Deterministic pseudo-random numbers so every run parses the same corpus.
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

const WORDS = ['안녕하세요', '오늘', '회의는', '3시에', '시작합니다', 'hello', 'see you', 'ok', '👍', '점심', '먹었어요?', 'lunch', 'at', 'noon'];

function sentence(rand: () => number, minBytes: number, maxBytes: number): string {
  const target = minBytes + Math.floor(rand() * (maxBytes - minBytes));
  let s = '';
  while (Buffer.byteLength(s) < target) s += (s ? ' ' : '') + WORDS[Math.floor(rand() * WORDS.length)];
  return s;
}

/** SEND frames as clients send them: destination, content-type, receipt, content-length, 100-300 byte body. */
function sendFrames(n: number, rand: () => number): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < n; i++) {
    const room = 1 + Math.floor(rand() * 500);
    const json = rand() < 0.7;
    const body = json ? JSON.stringify({ type: 'TEXT', content: sentence(rand, 60, 240), clientMsgId: randomUUID() }) : sentence(rand, 100, 300);
    out.push(
      encodeFrame(
        'SEND',
        {
          destination: `/app/rooms/${room}/messages`,
          'content-type': json ? 'application/json' : 'text/plain;charset=utf-8',
          receipt: `r-${i}`,
        },
        body,
      ),
    );
  }
  return out;
}

function messageHeaders(i: number, rand: () => number): Record<string, string> {
  const room = 1 + Math.floor(rand() * 500);
  return {
    'message-id': randomUUID(),
    destination: `/topic/rooms.${room}`,
    'content-type': 'application/json',
    seq: String(1000 + i),
    'room-id': String(room),
    'sender-id': String(1 + Math.floor(rand() * 10_000)),
    'message-type': 'TEXT',
    'created-at': new Date(1_750_000_000_000 + i * 1000).toISOString(),
  };
}

function messageBody(i: number, rand: () => number): Buffer {
  // ~250 bytes of JSON with Korean text.
  let body = '';
  while (Buffer.byteLength(body) < 230) {
    body = JSON.stringify({
      id: 900_000 + i,
      type: 'TEXT',
      content: sentence(rand, 80, 140),
      sender: { id: 4242, nickname: '김철수' },
      createdAt: new Date(1_750_000_000_000 + i * 1000).toISOString(),
    });
  }
  return Buffer.from(body);
}

/** MESSAGE frames as the server sends them: 11 headers (content-length included), ~250 byte JSON body. */
function messageFrames(n: number, rand: () => number): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < n; i++) {
    const headers = { subscription: `sub-${i % 4}`, ...messageHeaders(i, rand) };
    out.push(encodeFrame('MESSAGE', headers, messageBody(i, rand)));
  }
  return out;
}

function chunked(frames: Buffer[], size: number): Buffer[] {
  const all = Buffer.concat(frames);
  const out: Buffer[] = [];
  for (let i = 0; i < all.length; i += size) out.push(all.subarray(i, Math.min(i + size, all.length)));
  return out;
}

function toArrayBuffers(chunks: Buffer[]): ArrayBuffer[] {
  // Copied outside the timed region: stompjs takes ArrayBuffers, as it gets them from a browser WebSocket.
  return chunks.map((c) => c.buffer.slice(c.byteOffset, c.byteOffset + c.length) as ArrayBuffer);
}

let sink = 0; // keeps results observable so the JIT cannot drop the work

/**
 * Runs `pass` (which processes `framesPerPass` frames of `bytesPerPass` bytes) repeatedly for `ms` milliseconds
 * after a warm-up, `repeats` times, and returns the median rates.
 */
function measure(pass: () => void, framesPerPass: number, bytesPerPass: number, ms: number, repeats: number): Measured {
  const warmUntil = performance.now() + Math.min(500, ms / 2);
  while (performance.now() < warmUntil) pass();
  const fps: number[] = [];
  const mbps: number[] = [];
  for (let r = 0; r < repeats; r++) {
    let passes = 0;
    const start = performance.now();
    let now = start;
    const until = start + ms;
    while (now < until) {
      pass();
      passes++;
      now = performance.now();
    }
    const seconds = (now - start) / 1000;
    fps.push((passes * framesPerPass) / seconds);
    mbps.push((passes * bytesPerPass) / 1e6 / seconds);
  }
  return { fps: median(fps), mbps: median(mbps) };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

function oursParse(chunks: Buffer[]): () => void {
  return () => {
    const d = new StompDecoder(
      {
        onFrame: (f) => {
          sink += f.body.length;
        },
        onHeartbeat: () => {},
      },
      { commands: 'any' },
    );
    for (const c of chunks) d.push(c);
  };
}

function stompjsParse(chunks: ArrayBuffer[]): () => void {
  return () => {
    const p = new Parser(
      (f) => {
        sink += f.binaryBody?.length ?? 0;
      },
      () => {},
    );
    for (const c of chunks) p.parseChunk(c);
  };
}

function fmt(n: number): string {
  return n >= 100 ? Math.round(n).toLocaleString('en-US') : n.toFixed(1);
}

export async function run(args: string[]): Promise<void> {
  const ms = option(args, 'duration', 2000);
  const repeats = option(args, 'repeats', 3);
  const n = option(args, 'frames', 2000);
  const rand = rng(42);
  const corpora = { SEND: sendFrames(n, rand), MESSAGE: messageFrames(n, rand) };
  const rows: Row[] = [];
  const log = (s: string): void => console.log(`[bench codec] ${s}`);

  for (const [kind, frames] of Object.entries(corpora)) {
    const bytes = frames.reduce((a, f) => a + f.length, 0);
    log(`${kind}: ${frames.length} frames, avg ${Math.round(bytes / frames.length)} bytes`);
    for (const [label, chunks] of [
      ['16 KiB chunks', chunked(frames, CHUNK)],
      ['1 frame per message', frames],
    ] as const) {
      const op = `parse ${kind}, ${label}`;
      log(`${op}: ours...`);
      const ours = measure(oursParse(chunks), frames.length, bytes, ms, repeats);
      log(`${op}: stompjs...`);
      const stompjs = measure(stompjsParse(toArrayBuffers(chunks)), frames.length, bytes, ms, repeats);
      log(`${op}: ${fmt(ours.fps)} vs ${fmt(stompjs.fps)} frames/s (x${(ours.fps / stompjs.fps).toFixed(2)})`);
      rows.push({ op, ours, stompjs });
    }
  }

  // Encode: the MESSAGE corpus rebuilt from its parts, against stompjs's FrameImpl.marshall (binary body).
  {
    const r = rng(7);
    const inputs = Array.from({ length: 1000 }, (_, i) => ({
      headers: { subscription: 'sub-0', ...messageHeaders(i, r) },
      body: messageBody(i, r),
    }));
    const bytes = inputs.reduce((a, x) => a + encodeFrame('MESSAGE', x.headers, x.body).length, 0);
    const op = 'encode MESSAGE (encodeFrame)';
    log(`${op}...`);
    const ours = measure(
      () => {
        for (const x of inputs) sink += encodeFrame('MESSAGE', x.headers, x.body).length;
      },
      inputs.length,
      bytes,
      ms,
      repeats,
    );
    const stompjs = measure(
      () => {
        for (const x of inputs) {
          const out = FrameImpl.marshall({
            command: 'MESSAGE',
            headers: { ...x.headers },
            binaryBody: x.body,
            escapeHeaderValues: true,
          });
          sink += typeof out === 'string' ? out.length : out.byteLength;
        }
      },
      inputs.length,
      bytes,
      ms,
      repeats,
    );
    rows.push({ op, ours, stompjs });
  }

  // Fan-out: one MESSAGE to 1000 subscribers, PreparedMessage built per message as the hub does.
  {
    const r = rng(9);
    const headers = messageHeaders(1, r);
    const body = messageBody(1, r);
    const subscribers = 1000;
    const ids = Array.from({ length: subscribers }, (_, i) => `sub-${i}`);
    const frameLen = new PreparedMessage(headers, body).frameFor('sub-0').length;
    for (const [label, idOf] of [
      ['same id', () => 'sub-0'],
      ['distinct ids', (i: number) => ids[i]!],
    ] as const) {
      const op = `fan-out 1 MESSAGE to ${subscribers} subs, ${label} (frameFor)`;
      log(`${op}...`);
      const ours = measure(
        () => {
          const p = new PreparedMessage(headers, body);
          for (let i = 0; i < subscribers; i++) sink += p.frameFor(idOf(i)).length;
        },
        subscribers,
        subscribers * frameLen,
        ms,
        repeats,
      );
      rows.push({ op, ours });
    }
    const op = `fan-out baseline: encodeFrame per subscriber`;
    log(`${op}...`);
    const ours = measure(
      () => {
        for (let i = 0; i < subscribers; i++) {
          sink += encodeFrame('MESSAGE', { subscription: ids[i]!, ...headers }, body).length;
        }
      },
      subscribers,
      subscribers * frameLen,
      ms,
      repeats,
    );
    rows.push({ op, ours });
  }

  const lines = [
    '| operation | ours frames/s | ours MB/s | stompjs frames/s | ratio |',
    '|---|---:|---:|---:|---:|',
    ...rows.map(
      (r) =>
        `| ${r.op} | ${fmt(r.ours.fps)} | ${fmt(r.ours.mbps)} | ${r.stompjs ? fmt(r.stompjs.fps) : '—'} | ${
          r.stompjs ? `${(r.ours.fps / r.stompjs.fps).toFixed(2)}x` : '—'
        } |`,
    ),
  ];
  console.log('\n' + lines.join('\n') + '\n');

  const file = join(dirname(fileURLToPath(import.meta.url)), 'results', 'codec.jsonl');
  mkdirSync(dirname(file), { recursive: true });
  const at = new Date().toISOString();
  const env = { node: process.version, platform: `${process.platform}-${process.arch}`, durationMs: ms, repeats };
  appendFileSync(
    file,
    rows
      .map((r) =>
        JSON.stringify({
          bench: 'codec',
          at,
          op: r.op,
          oursFramesPerSec: Math.round(r.ours.fps),
          oursMBPerSec: Number(r.ours.mbps.toFixed(2)),
          stompjsFramesPerSec: r.stompjs ? Math.round(r.stompjs.fps) : null,
          stompjsMBPerSec: r.stompjs ? Number(r.stompjs.mbps.toFixed(2)) : null,
          ratio: r.stompjs ? Number((r.ours.fps / r.stompjs.fps).toFixed(2)) : null,
          ...env,
        }),
      )
      .join('\n') + '\n',
  );
  log(`results appended to ${file} (sink ${sink % 1000})`);
}
