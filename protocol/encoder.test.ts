import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { Parser } from '@stomp/stompjs';
import { HEARTBEAT, PreparedMessage, encodeFrame, encodeFrameParts } from './encoder.js';
import { StompDecoder } from './decoder.js';
import type { Frame } from './frame.js';

const text = (buf: Buffer): string => buf.toString('utf8');

function decodeOne(bytes: Buffer): Frame {
  const frames: Frame[] = [];
  new StompDecoder({ onFrame: (f) => frames.push(f) }).push(bytes);
  expect(frames).toHaveLength(1);
  return frames[0]!;
}

describe('encodeFrame', () => {
  it('writes command, headers in order, blank line and NUL', () => {
    expect(text(encodeFrame('SUBSCRIBE', { id: 'sub-0', destination: '/topic/r.1', ack: 'client' }))).toBe(
      'SUBSCRIBE\nid:sub-0\ndestination:/topic/r.1\nack:client\n\n\0',
    );
    expect(text(encodeFrame('DISCONNECT', {}))).toBe('DISCONNECT\n\n\0');
  });

  it('adds content-length (in bytes) whenever there is a body', () => {
    expect(text(encodeFrame('SEND', { destination: '/a' }, '안녕'))).toBe(
      'SEND\ndestination:/a\ncontent-length:6\n\n안녕\0',
    );
    const body = Buffer.from([0, 1, 0]);
    const bytes = encodeFrame('MESSAGE', { destination: '/a' }, body);
    expect(bytes.subarray(0, -4).toString()).toBe('MESSAGE\ndestination:/a\ncontent-length:3\n\n');
    expect(bytes.subarray(-4)).toEqual(Buffer.from([0, 1, 0, 0]));
  });

  it('adds no content-length for an empty body and replaces a given one', () => {
    expect(text(encodeFrame('SEND', { destination: '/a', 'content-length': '5' }, ''))).toBe('SEND\ndestination:/a\n\n\0');
    expect(text(encodeFrame('SEND', { 'content-length': '99', destination: '/a' }, 'hi'))).toBe(
      'SEND\ndestination:/a\ncontent-length:2\n\nhi\0',
    );
  });

  it('escapes names and values of ordinary frames', () => {
    expect(text(encodeFrame('MESSAGE', { 'a:b': 'x\\y\nz\r:' }))).toBe('MESSAGE\na\\cb:x\\\\y\\nz\\r\\c\n\n\0');
    expect(text(encodeFrame('STOMP', { passcode: 'p:w' }))).toBe('STOMP\npasscode:p\\cw\n\n\0');
  });

  it('does not escape CONNECT and CONNECTED frames', () => {
    expect(text(encodeFrame('CONNECTED', { version: '1.2', server: 'chat/1.0 a\\b', session: 'x:y' }))).toBe(
      'CONNECTED\nversion:1.2\nserver:chat/1.0 a\\b\nsession:x:y\n\n\0',
    );
    expect(text(encodeFrame('CONNECT', { login: 'a\\b' }))).toBe('CONNECT\nlogin:a\\b\n\n\0');
  });

  it('refuses what CONNECT/CONNECTED cannot represent, and empty names', () => {
    expect(() => encodeFrame('CONNECTED', { version: '1.2\n' })).toThrow(RangeError);
    expect(() => encodeFrame('CONNECT', { 'a:b': 'x' })).toThrow(RangeError);
    expect(() => encodeFrame('SEND', { '': 'x' })).toThrow(RangeError);
  });

  it('accepts ordered pairs, repeats included', () => {
    expect(
      text(
        encodeFrame('MESSAGE', [
          ['foo', 'World'],
          ['foo', 'Hello'],
        ]),
      ),
    ).toBe('MESSAGE\nfoo:World\nfoo:Hello\n\n\0');
  });

  it('round-trips through the decoder for arbitrary headers and bodies', () => {
    fc.assert(
      fc.property(
        fc.dictionary(
          fc.string({ unit: 'binary', minLength: 1 }).filter((n) => n !== 'content-length'),
          fc.string({ unit: 'binary' }),
          { maxKeys: 6 },
        ),
        fc.uint8Array({ maxLength: 200 }),
        (headers, body) => {
          const f = decodeOne(encodeFrame('SEND', headers, Buffer.from(body)));
          const expected: Record<string, string> = { ...headers };
          if (body.length > 0) expected['content-length'] = String(body.length);
          expect({ ...f.headers }).toEqual(expected);
          expect(f.body).toEqual(Buffer.from(body));
        },
      ),
    );
  });

  it('is understood by @stomp/stompjs', () => {
    const raw: { command: string; headers: [string, string][]; binaryBody: Uint8Array }[] = [];
    const parser = new Parser(
      (f) => raw.push(f as unknown as (typeof raw)[number]),
      () => {},
    );
    const bytes = encodeFrame('MESSAGE', { subscription: 'sub-0', destination: '/topic/r' }, '{"text":"안녕"}');
    parser.parseChunk(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length) as ArrayBuffer);
    expect(raw).toHaveLength(1);
    expect(raw[0]!.command).toBe('MESSAGE');
    expect(raw[0]!.headers).toEqual([
      ['subscription', 'sub-0'],
      ['destination', '/topic/r'],
      ['content-length', String(Buffer.byteLength('{"text":"안녕"}'))],
    ]);
    expect(Buffer.from(raw[0]!.binaryBody).toString()).toBe('{"text":"안녕"}');
  });
});

describe('encodeFrameParts', () => {
  it('returns [head] ending in NUL when there is no body', () => {
    const parts = encodeFrameParts('RECEIPT', { 'receipt-id': '77' });
    expect(parts).toHaveLength(1);
    expect(text(parts[0]!)).toBe('RECEIPT\nreceipt-id:77\n\n\0');
  });

  it('returns [head, body, NUL] without copying the body', () => {
    const body = Buffer.from('payload');
    const parts = encodeFrameParts('SEND', { destination: '/a' }, body);
    expect(parts).toHaveLength(3);
    expect(parts[1]).toBe(body);
    expect(parts[2]).toEqual(Buffer.from([0]));
    expect(Buffer.concat(parts)).toEqual(encodeFrame('SEND', { destination: '/a' }, body));
  });

  it('concatenates to exactly encodeFrame for any input', () => {
    fc.assert(
      fc.property(
        fc.constantFrom('SEND', 'MESSAGE', 'ERROR', 'CONNECTED'),
        fc.dictionary(fc.string({ unit: 'grapheme-ascii', minLength: 1 }).map((s) => s.replace(/[:\\]/g, '_')), fc.string()),
        fc.oneof(fc.string({ unit: 'binary' }), fc.uint8Array().map((a) => Buffer.from(a))),
        (command, headers, body) => {
          expect(Buffer.concat(encodeFrameParts(command, headers, body))).toEqual(encodeFrame(command, headers, body));
        },
      ),
    );
  });
});

describe('PreparedMessage', () => {
  const headers = {
    'message-id': '6f1c2a9e-0000-4000-8000-000000000001',
    destination: '/topic/room.42',
    'content-type': 'application/json',
    seq: '17',
  };
  const body = Buffer.from('{"text":"안녕하세요"}');

  it('frameFor gives the frame with subscription first, decoding to the right frame', () => {
    const p = new PreparedMessage(headers, body);
    const bytes = p.frameFor('sub-0');
    expect(bytes).toEqual(encodeFrame('MESSAGE', { subscription: 'sub-0', ...headers }, body));
    const f = decodeOne(bytes);
    expect(f.command).toBe('MESSAGE');
    expect(Object.keys(f.headers)[0]).toBe('subscription');
    expect({ ...f.headers }).toEqual({ subscription: 'sub-0', ...headers, 'content-length': String(body.length) });
    expect(f.body).toEqual(body);
  });

  it('caches per subscription id', () => {
    const p = new PreparedMessage(headers, body);
    const a = p.frameFor('sub-0');
    expect(p.frameFor('sub-0')).toBe(a);
    const b = p.frameFor('sub-1');
    expect(b).not.toBe(a);
    expect(decodeOne(b).headers['subscription']).toBe('sub-1');
  });

  it('escapes the subscription id like any MESSAGE header', () => {
    const p = new PreparedMessage(headers, body);
    expect(decodeOne(p.frameFor('a:b\\c\n')).headers['subscription']).toBe('a:b\\c\n');
    expect(text(p.frameFor('a:b'))).toContain('subscription:a\\cb\n');
  });

  it('reports the frame length without the subscription header', () => {
    const p = new PreparedMessage(headers, body);
    expect(p.byteLength).toBe(encodeFrame('MESSAGE', headers, body).length);
    expect(p.frameFor('s').length).toBe(p.byteLength + 'subscription:s\n'.length);
    const empty = new PreparedMessage({ destination: '/d' }, Buffer.alloc(0));
    expect(text(empty.frameFor('x'))).toBe('MESSAGE\nsubscription:x\ndestination:/d\n\n\0');
    expect(empty.byteLength).toBe('MESSAGE\ndestination:/d\n\n\0'.length);
  });

  it('refuses a subscription header and replaces content-length', () => {
    expect(() => new PreparedMessage({ subscription: 'x' }, body)).toThrow(TypeError);
    const p = new PreparedMessage({ destination: '/d', 'content-length': '1' }, Buffer.from('abc'));
    expect(decodeOne(p.frameFor('s')).headers['content-length']).toBe('3');
  });

  it('does not keep a reference to the caller body', () => {
    const mutable = Buffer.from('abc');
    const p = new PreparedMessage({ destination: '/d' }, mutable);
    mutable.write('xyz');
    expect(decodeOne(p.frameFor('s')).body.toString()).toBe('abc');
  });
});

describe('HEARTBEAT', () => {
  it('is one LF', () => {
    expect(HEARTBEAT).toEqual(Buffer.from('\n'));
  });
});
