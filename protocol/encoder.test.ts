import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { Parser } from '@stomp/stompjs';
import { HEARTBEAT, PreparedMessage, encodeFrame } from './encoder.js';
import type { HeadersInput } from './encoder.js';
import { StompDecoder } from './decoder.js';
import { usesEscaping } from './frame.js';
import type { Frame, StompVersion } from './frame.js';

const text = (buf: Buffer): string => buf.toString('utf8');
const VERSIONS: readonly StompVersion[] = ['1.0', '1.1', '1.2'];

/** Decodes exactly one frame (and its trailing EOL, which must be there) with a decoder of `version`. */
function decodeOne(bytes: Buffer, version: StompVersion = '1.2'): Frame {
  const frames: Frame[] = [];
  const beats: boolean[] = [];
  new StompDecoder({ onFrame: (f) => frames.push(f), onHeartbeat: (t) => beats.push(t) }, { version }).push(bytes);
  expect(frames).toHaveLength(1);
  expect(beats).toEqual([true]);
  return frames[0]!;
}

/** How a frame's headers are written: CONNECT/CONNECTED follow the 1.0 rules in every version. */
const styleOf = (command: string, version: StompVersion): StompVersion => (usesEscaping(command) ? version : '1.0');

/** `s` without what `style` cannot carry in a header name (`isName`) or value. */
function fit(style: StompVersion, s: string, isName: boolean): string {
  if (style === '1.2') return s;
  if (style === '1.1') return s.replace(/\r/g, '');
  return s.replace(isName ? /[\r\n:]/g : /[\r\n]/g, '');
}

// Header text with every character some version escapes or refuses, plus arbitrary unicode.
const headerText = fc.string({
  unit: fc.oneof(
    { weight: 3, arbitrary: fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }) },
    { weight: 2, arbitrary: fc.constantFrom(':', '\n', '\r', '\\', '\\n', '\\r', '\\c', '\\t', '한') },
  ),
  maxLength: 16,
});
const headerPairs = fc.array(
  fc.tuple(
    headerText.filter((n) => n.length > 0 && n !== 'content-length' && n !== 'subscription'),
    headerText,
  ),
  { maxLength: 6 },
);

describe('encodeFrame', () => {
  it('writes command, headers in order, blank line, NUL and LF', () => {
    expect(text(encodeFrame('SUBSCRIBE', { id: 'sub-0', destination: '/topic/r.1', ack: 'client' }))).toBe(
      'SUBSCRIBE\nid:sub-0\ndestination:/topic/r.1\nack:client\n\n\0\n',
    );
    expect(text(encodeFrame('DISCONNECT', {}))).toBe('DISCONNECT\n\n\0\n');
  });

  it('adds content-length (in bytes) whenever there is a body', () => {
    expect(text(encodeFrame('SEND', { destination: '/a' }, '안녕'))).toBe('SEND\ndestination:/a\ncontent-length:6\n\n안녕\0\n');
    const body = Buffer.from([0, 1, 0]);
    const bytes = encodeFrame('MESSAGE', { destination: '/a' }, body);
    expect(bytes.subarray(0, -5).toString()).toBe('MESSAGE\ndestination:/a\ncontent-length:3\n\n');
    expect(bytes.subarray(-5)).toEqual(Buffer.from([0, 1, 0, 0, 10]));
  });

  it('adds no content-length for an empty body and replaces a given one', () => {
    expect(text(encodeFrame('SEND', { destination: '/a', 'content-length': '5' }, ''))).toBe('SEND\ndestination:/a\n\n\0\n');
    expect(text(encodeFrame('SEND', { 'content-length': '99', destination: '/a' }, 'hi'))).toBe('SEND\ndestination:/a\ncontent-length:2\n\nhi\0\n');
  });

  it('STOMP 1.2 (the default) escapes backslash, CR, LF and colon in names and values', () => {
    const bytes = 'MESSAGE\na\\cb:x\\\\y\\nz\\r\\c\n\n\0\n';
    expect(text(encodeFrame('MESSAGE', { 'a:b': 'x\\y\nz\r:' }))).toBe(bytes);
    expect(text(encodeFrame('MESSAGE', { 'a:b': 'x\\y\nz\r:' }, undefined, '1.2'))).toBe(bytes);
    expect(text(encodeFrame('STOMP', { passcode: 'p:w' }))).toBe('STOMP\npasscode:p\\cw\n\n\0\n');
  });

  it('STOMP 1.1 escapes backslash, LF and colon, and refuses CR', () => {
    expect(text(encodeFrame('MESSAGE', { 'a:b': 'x\\y\nz:', 't\\n': 'c' }, 'hi', '1.1'))).toBe(
      'MESSAGE\na\\cb:x\\\\y\\nz\\c\nt\\\\n:c\ncontent-length:2\n\nhi\0\n',
    );
    expect(() => encodeFrame('MESSAGE', { a: 'x\ry' }, undefined, '1.1')).toThrow(RangeError);
    expect(() => encodeFrame('MESSAGE', { 'a\r': 'x' }, undefined, '1.1')).toThrow(RangeError);
    expect(() => encodeFrame('ERROR', { message: 'oops\r\n' }, 'x', '1.1')).toThrow(/1\.1.*CR/);
  });

  it('STOMP 1.0 writes names and values literally: backslashes and colons in values are data', () => {
    expect(text(encodeFrame('MESSAGE', { 'created-at': '2026-01-01T10:41:00.492Z', path: 'C:\\dir\\n', 'x\\c': '\\' }, 'hi', '1.0'))).toBe(
      'MESSAGE\ncreated-at:2026-01-01T10:41:00.492Z\npath:C:\\dir\\n\nx\\c:\\\ncontent-length:2\n\nhi\0\n',
    );
  });

  it('STOMP 1.0 refuses CR or LF anywhere and a colon in a name', () => {
    const cases: Record<string, string>[] = [{ a: 'x\ny' }, { a: 'x\ry' }, { 'a\n': 'x' }, { 'a\r': 'x' }, { 'a:b': 'x' }];
    for (const headers of cases) {
      expect(() => encodeFrame('SEND', headers, undefined, '1.0')).toThrow(RangeError);
    }
  });

  it('never escapes CONNECT and CONNECTED, in any version', () => {
    for (const version of VERSIONS) {
      expect(text(encodeFrame('CONNECTED', { version: '1.2', server: 'chat/1.0 a\\b', session: 'x:y' }, undefined, version))).toBe(
        'CONNECTED\nversion:1.2\nserver:chat/1.0 a\\b\nsession:x:y\n\n\0\n',
      );
      expect(text(encodeFrame('CONNECT', { login: 'a\\b' }, undefined, version))).toBe('CONNECT\nlogin:a\\b\n\n\0\n');
    }
  });

  it('refuses what CONNECT/CONNECTED cannot represent, empty names and unknown versions', () => {
    for (const version of VERSIONS) {
      expect(() => encodeFrame('CONNECTED', { version: '1.2\n' }, undefined, version)).toThrow(RangeError);
      expect(() => encodeFrame('CONNECTED', { version: '1.2\r' }, undefined, version)).toThrow(RangeError);
      expect(() => encodeFrame('CONNECT', { 'a:b': 'x' }, undefined, version)).toThrow(RangeError);
      expect(() => encodeFrame('SEND', { '': 'x' }, undefined, version)).toThrow(RangeError);
    }
    expect(() => encodeFrame('SEND', { a: 'b' }, undefined, '1.3' as never)).toThrow(RangeError);
  });

  it('does not quote header values in its errors (they may be passcodes)', () => {
    expect(() => encodeFrame('CONNECT', { passcode: 'secret\n' })).toThrow(expect.objectContaining({ message: expect.not.stringContaining('secret') }));
  });

  it('accepts ordered pairs, repeats included', () => {
    expect(
      text(
        encodeFrame('MESSAGE', [
          ['foo', 'World'],
          ['foo', 'Hello'],
        ]),
      ),
    ).toBe('MESSAGE\nfoo:World\nfoo:Hello\n\n\0\n');
  });

  it('round-trips through a decoder of the same version for arbitrary headers and bodies (1.2)', () => {
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

  it('per version: round-trips through a decoder of that version whatever the version can carry', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...VERSIONS),
        fc.constantFrom('SEND', 'MESSAGE', 'ERROR', 'CONNECT', 'CONNECTED'),
        headerPairs,
        fc.uint8Array({ maxLength: 100 }).map((a) => Buffer.from(a)),
        (version, command, pairs, body) => {
          const style = styleOf(command, version);
          // Only what the style can carry; repeated names dropped (the decoder keeps the first anyway).
          const fitted = new Map<string, string>();
          for (const [n, v] of pairs) {
            const name = fit(style, n, true);
            if (name.length === 0 || name === 'content-length' || fitted.has(name)) continue;
            fitted.set(name, fit(style, v, false));
          }
          const headers = [...fitted];
          const f = decodeOne(encodeFrame(command, headers, body, version), version);
          const expected = Object.fromEntries(headers);
          if (body.length > 0) expected['content-length'] = String(body.length);
          expect(f.command).toBe(command);
          expect({ ...f.headers }).toEqual(expected);
          expect(f.body).toEqual(body);
        },
      ),
      { numRuns: 1000 },
    );
  });

  it('per version: throws RangeError for any header the version cannot carry', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...VERSIONS),
        fc.constantFrom('SEND', 'MESSAGE', 'CONNECT', 'CONNECTED'),
        headerPairs,
        fc.record({ name: headerText, value: headerText, inName: fc.boolean(), at: fc.nat(), pick: fc.nat() }),
        (version, command, pairs, bad) => {
          const style = styleOf(command, version);
          fc.pre(style !== '1.2');
          const forbidden = style === '1.1' ? ['\r'] : bad.inName ? ['\r', '\n', ':'] : ['\r', '\n'];
          const c = forbidden[bad.pick % forbidden.length]!;
          const spoil = (s: string): string => {
            const i = bad.at % (s.length + 1);
            return s.slice(0, i) + c + s.slice(i);
          };
          const fittedName = fit(style, bad.name, true);
          const plainName = fittedName === '' || fittedName === 'content-length' ? 'x' : fittedName;
          const name = bad.inName ? spoil(fittedName) : plainName;
          const value = bad.inName ? fit(style, bad.value, false) : spoil(fit(style, bad.value, false));
          const good = pairs.map(([n, v]) => [fit(style, n, true) || 'y', fit(style, v, false)] as [string, string]);
          const at = bad.pick % (good.length + 1);
          const headers = [...good.slice(0, at), [name, value] as [string, string], ...good.slice(at)];
          expect(() => encodeFrame(command, headers, undefined, version)).toThrow(RangeError);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('ends every frame with NUL and LF, which a decoder reports as a trailing heart-beat', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            command: fc.constantFrom('SEND', 'MESSAGE', 'RECEIPT', 'CONNECTED'),
            headers: fc.dictionary(fc.constantFrom('a', 'b', 'receipt-id'), fc.string({ unit: 'grapheme-ascii' })),
            body: fc.oneof(
              fc.constant(undefined),
              fc.string(),
              fc.uint8Array().map((a) => Buffer.from(a)),
            ),
          }),
          { minLength: 1, maxLength: 5 },
        ),
        (frames) => {
          const encoded = frames.map((f) => encodeFrame(f.command, f.headers, f.body));
          for (const bytes of encoded) expect([...bytes.subarray(-2)]).toEqual([0, 10]);
          const events: string[] = [];
          new StompDecoder({
            onFrame: (f) => events.push(f.command),
            onHeartbeat: (trailing) => events.push(trailing ? 'EOL' : 'HB'),
          }).push(Buffer.concat(encoded));
          expect(events).toEqual(frames.flatMap((f) => [f.command, 'EOL']));
        },
      ),
    );
  });

  it('is understood by @stomp/stompjs, which reads the trailing LF as a heart-beat', () => {
    const raw: { command: string; headers: [string, string][]; binaryBody: Uint8Array }[] = [];
    let pings = 0;
    const parser = new Parser(
      (f) => raw.push(f as unknown as (typeof raw)[number]),
      () => pings++,
    );
    const bytes = Buffer.concat([
      encodeFrame('MESSAGE', { subscription: 'sub-0', destination: '/topic/r' }, '{"text":"안녕"}'),
      encodeFrame('RECEIPT', { 'receipt-id': '7' }),
    ]);
    parser.parseChunk(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length) as ArrayBuffer);
    expect(raw).toHaveLength(2);
    expect(raw[0]!.command).toBe('MESSAGE');
    expect(raw[0]!.headers).toEqual([
      ['subscription', 'sub-0'],
      ['destination', '/topic/r'],
      ['content-length', String(Buffer.byteLength('{"text":"안녕"}'))],
    ]);
    expect(Buffer.from(raw[0]!.binaryBody).toString()).toBe('{"text":"안녕"}');
    expect(raw[1]!.command).toBe('RECEIPT');
    expect(pings).toBe(2);
  });
});

describe('PreparedMessage', () => {
  const headers = {
    'message-id': '6f1c2a9e-0000-4000-8000-000000000001',
    destination: '/topic/room.42',
    'content-type': 'application/json',
    seq: '17',
    'created-at': '2026-01-01T10:41:00.492Z',
  };
  const body = Buffer.from('{"text":"안녕하세요"}');
  const len = body.length;

  /** What encodeFrame writes for the same subscriber. */
  const expected = (id: string, ack: string | undefined, version: StompVersion, h: HeadersInput = headers): Buffer => {
    const rest = Array.isArray(h) ? (h as ReadonlyArray<readonly [string, string]>) : Object.entries(h);
    const first: [string, string][] =
      ack === undefined
        ? [['subscription', id]]
        : [
            ['subscription', id],
            ['ack', ack],
          ];
    return encodeFrame('MESSAGE', [...first, ...rest], body, version);
  };

  it('frameFor gives the frame with subscription first, decoding to the right frame', () => {
    const p = new PreparedMessage(headers, body);
    const bytes = p.frameFor('sub-0');
    expect(bytes).toEqual(encodeFrame('MESSAGE', { subscription: 'sub-0', ...headers }, body));
    const f = decodeOne(bytes);
    expect(f.command).toBe('MESSAGE');
    expect(Object.keys(f.headers)[0]).toBe('subscription');
    expect({ ...f.headers }).toEqual({ subscription: 'sub-0', ...headers, 'content-length': String(len) });
    expect(f.body).toEqual(body);
  });

  it('writes each version byte for byte as a fixture: 1.0 raw, 1.1 and 1.2 escaped', () => {
    const p = new PreparedMessage({ destination: '/topic/r.1', 'created-at': '2026-01-01T10:41:00.492Z' }, body);
    const tail = `content-length:${len}\n\n{"text":"안녕하세요"}\0\n`;
    expect(text(p.frameFor('sub-0', { version: '1.0' }))).toBe(
      'MESSAGE\nsubscription:sub-0\ndestination:/topic/r.1\ncreated-at:2026-01-01T10:41:00.492Z\n' + tail,
    );
    expect(text(p.frameFor('a:b', { ack: 'm:1', version: '1.0' }))).toBe(
      'MESSAGE\nsubscription:a:b\nack:m:1\ndestination:/topic/r.1\ncreated-at:2026-01-01T10:41:00.492Z\n' + tail,
    );
    for (const version of ['1.1', '1.2'] as const) {
      expect(text(p.frameFor('a:b', { ack: 'm:1', version }))).toBe(
        'MESSAGE\nsubscription:a\\cb\nack:m\\c1\ndestination:/topic/r.1\n' + 'created-at:2026-01-01T10\\c41\\c00.492Z\n' + tail,
      );
    }
  });

  it('adds ack right after subscription, matching encodeFrame, and never caches those frames', () => {
    const p = new PreparedMessage(headers, body);
    for (const version of VERSIONS) {
      const a = p.frameFor('sub-0', { ack: 'msg-1', version });
      expect(a).toEqual(expected('sub-0', 'msg-1', version));
      expect(Object.keys(decodeOne(a, version).headers).slice(0, 2)).toEqual(['subscription', 'ack']);
      expect(p.frameFor('sub-0', { ack: 'msg-1', version })).not.toBe(a);
      // The frame without ack is still the plain one, cached.
      const plain = p.frameFor('sub-0', { version });
      expect(plain).toEqual(expected('sub-0', undefined, version));
      expect(p.frameFor('sub-0', { version })).toBe(plain);
    }
    expect(p.frameFor('sub-0', { ack: '' })).toEqual(expected('sub-0', '', '1.2'));
  });

  it('caches per (escaping style, subscription id); 1.1 and 1.2 share the escaped bytes', () => {
    const p = new PreparedMessage(headers, body);
    const a = p.frameFor('sub-0');
    expect(p.frameFor('sub-0')).toBe(a);
    expect(p.frameFor('sub-0', { version: '1.2' })).toBe(a);
    expect(p.frameFor('sub-0', { version: '1.1' })).toBe(a);
    const raw = p.frameFor('sub-0', { version: '1.0' });
    expect(raw).not.toEqual(a);
    expect(p.frameFor('sub-0', { version: '1.0' })).toBe(raw);
    const b = p.frameFor('sub-1');
    expect(b).not.toBe(a);
    expect(decodeOne(b).headers['subscription']).toBe('sub-1');
  });

  it('escapes the subscription id as the version requires', () => {
    const p = new PreparedMessage(headers, body);
    expect(decodeOne(p.frameFor('a:b\\c\n')).headers['subscription']).toBe('a:b\\c\n');
    expect(text(p.frameFor('a:b'))).toContain('subscription:a\\cb\n');
    expect(decodeOne(p.frameFor('a:b\\c\n', { version: '1.1' }), '1.1').headers['subscription']).toBe('a:b\\c\n');
    expect(decodeOne(p.frameFor('a:b\\c', { version: '1.0' }), '1.0').headers['subscription']).toBe('a:b\\c');
  });

  it('builds the 1.0 form lazily: headers 1.0 cannot carry fail only for 1.0 subscribers', () => {
    const p = new PreparedMessage({ destination: '/d', note: 'two\nlines' }, body);
    expect(decodeOne(p.frameFor('s')).headers['note']).toBe('two\nlines');
    expect(decodeOne(p.frameFor('s', { version: '1.1' }), '1.1').headers['note']).toBe('two\nlines');
    expect(() => p.frameFor('s', { version: '1.0' })).toThrow(RangeError);
    expect(() => p.frameFor('s', { version: '1.0' })).toThrow(RangeError);
    expect(p.frameFor('s')).toEqual(expected('s', undefined, '1.2', { destination: '/d', note: 'two\nlines' }));
  });

  it('refuses for 1.1 what 1.1 cannot carry, even when 1.2 cached the same id', () => {
    const withCr = new PreparedMessage({ destination: '/d', note: 'a\rb' }, body);
    expect(decodeOne(withCr.frameFor('s')).headers['note']).toBe('a\rb');
    expect(() => withCr.frameFor('s', { version: '1.1' })).toThrow(RangeError);
    const p = new PreparedMessage(headers, body);
    expect(decodeOne(p.frameFor('s\r')).headers['subscription']).toBe('s\r');
    expect(() => p.frameFor('s\r', { version: '1.1' })).toThrow(RangeError);
    expect(() => p.frameFor('s', { ack: 'a\rb', version: '1.1' })).toThrow(RangeError);
  });

  it('refuses for 1.0 a subscription id or ack with CR or LF, and unknown versions', () => {
    const p = new PreparedMessage(headers, body);
    expect(() => p.frameFor('s\n', { version: '1.0' })).toThrow(RangeError);
    expect(() => p.frameFor('s', { ack: 'a\rb', version: '1.0' })).toThrow(RangeError);
    expect(() => p.frameFor('s', { version: '1.3' as never })).toThrow(RangeError);
    expect(() => p.frameFor('s', { version: '' as never })).toThrow(RangeError);
  });

  it('matches encodeFrame byte for byte for any headers, subscriber, ack and version (or both throw)', () => {
    // Data fitted to one style, served to subscribers of every version: fitted to 1.0 all succeed; fitted to 1.1 or
    // 1.2, older subscribers often get RangeError (exactly when encodeFrame throws too).
    const request = fc.record({
      id: headerText,
      ack: fc.option(headerText, { nil: undefined }),
      version: fc.constantFrom(...VERSIONS),
    });
    fc.assert(
      fc.property(
        fc.constantFrom(...VERSIONS),
        headerPairs,
        fc.uint8Array({ maxLength: 64 }).map((a) => Buffer.from(a)),
        fc.array(request, { minLength: 1, maxLength: 8 }),
        (dataStyle, rawPairs, payload, requests) => {
          const pairs = rawPairs.map(([n, v]) => [fit(dataStyle, n, true) || 'x', fit(dataStyle, v, false)] as const);
          const p = new PreparedMessage(pairs, payload);
          for (const r of requests) {
            const id = fit(dataStyle, r.id, false);
            const ack = r.ack === undefined ? undefined : fit(dataStyle, r.ack, false);
            const first: [string, string][] = [['subscription', id]];
            if (ack !== undefined) first.push(['ack', ack]);
            let want: Buffer | RangeError;
            try {
              want = encodeFrame('MESSAGE', [...first, ...pairs], payload, r.version);
            } catch (err) {
              expect(err).toBeInstanceOf(RangeError);
              want = err as RangeError;
            }
            if (want instanceof RangeError) {
              expect(() => p.frameFor(id, { ack, version: r.version })).toThrow(RangeError);
            } else {
              expect(p.frameFor(id, { ack, version: r.version })).toEqual(want);
            }
          }
        },
      ),
      { numRuns: 500 },
    );
  });

  it('reports the frame length without the subscription header', () => {
    const p = new PreparedMessage(headers, body);
    expect(p.byteLength).toBe(encodeFrame('MESSAGE', headers, body).length);
    expect(p.frameFor('s').length).toBe(p.byteLength + 'subscription:s\n'.length);
    const empty = new PreparedMessage({ destination: '/d' }, Buffer.alloc(0));
    expect(text(empty.frameFor('x'))).toBe('MESSAGE\nsubscription:x\ndestination:/d\n\n\0\n');
    expect(text(empty.frameFor('x', { version: '1.0' }))).toBe('MESSAGE\nsubscription:x\ndestination:/d\n\n\0\n');
    expect(empty.byteLength).toBe('MESSAGE\ndestination:/d\n\n\0\n'.length);
  });

  it('accepts ordered pairs, repeats included', () => {
    const pairs = [
      ['foo', 'World'],
      ['foo', 'Hello'],
    ] as const;
    const p = new PreparedMessage(pairs, body);
    expect(p.frameFor('s', { version: '1.0' })).toEqual(expected('s', undefined, '1.0', pairs));
    expect(decodeOne(p.frameFor('s')).headers['foo']).toBe('World');
  });

  it('refuses a subscription header and replaces content-length', () => {
    expect(() => new PreparedMessage({ subscription: 'x' }, body)).toThrow(TypeError);
    expect(() => new PreparedMessage([['subscription', 'x']], body)).toThrow(TypeError);
    const p = new PreparedMessage({ destination: '/d', 'content-length': '1' }, Buffer.from('abc'));
    expect(decodeOne(p.frameFor('s')).headers['content-length']).toBe('3');
    expect(decodeOne(p.frameFor('s', { version: '1.0' }), '1.0').headers['content-length']).toBe('3');
  });

  it('refuses an empty header name at once', () => {
    expect(() => new PreparedMessage({ '': 'x' }, body)).toThrow(RangeError);
  });

  it('does not keep a reference to the caller body or headers', () => {
    const mutable = Buffer.from('abc');
    const h: Record<string, string> = { destination: '/d' };
    const p = new PreparedMessage(h, mutable);
    mutable.write('xyz');
    h['destination'] = '/changed';
    expect(decodeOne(p.frameFor('s')).body.toString()).toBe('abc');
    expect(decodeOne(p.frameFor('s', { version: '1.0' }), '1.0').headers['destination']).toBe('/d');
    expect(decodeOne(p.frameFor('s', { version: '1.0' }), '1.0').body.toString()).toBe('abc');
  });
});

describe('HEARTBEAT', () => {
  it('is one LF', () => {
    expect(HEARTBEAT).toEqual(Buffer.from('\n'));
  });
});
