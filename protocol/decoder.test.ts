import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import v8 from 'node:v8';
import vm from 'node:vm';
import { StompDecoder } from './decoder.js';
import type { DecoderOptions } from './decoder.js';
import { encodeFrame } from './encoder.js';
import { StompProtocolError } from './errors.js';
import { CLIENT_COMMANDS, SERVER_COMMANDS, usesEscaping } from './frame.js';
import type { Frame, StompVersion } from './frame.js';

// A decoded event in comparable form: a frame with plain-object headers, or a heart-beat.
type Event = { command: string; headers: Record<string, string>; body: Buffer } | 'HB';

function plain(f: Frame): Event {
  // fromEntries defines own properties, so a header named __proto__ stays data here too.
  return { command: f.command, headers: Object.fromEntries(Object.entries(f.headers)), body: Buffer.from(f.body) };
}

/** Called on each frame before it is recorded, e.g. to switch the decoder's version as a server does. */
type OnFrame = (f: Frame, d: StompDecoder) => void;

function decodeChunks(chunks: Buffer[], options?: DecoderOptions, onFrame?: OnFrame): Event[] {
  const events: Event[] = [];
  const d: StompDecoder = new StompDecoder(
    {
      onFrame: (f) => {
        onFrame?.(f, d);
        events.push(plain(f));
      },
      onHeartbeat: () => events.push('HB'),
    },
    options,
  );
  for (const c of chunks) d.push(c);
  expect(d.bufferedBytes).toBe(0);
  return events;
}

/** Decodes `bytes` whole, split in two at every offset, and one byte at a time; all must agree. */
function decodeEverySplit(bytes: Buffer, options?: DecoderOptions, onFrame?: OnFrame): Event[] {
  const whole = decodeChunks([bytes], options, onFrame);
  for (let i = 0; i <= bytes.length; i++) {
    expect(decodeChunks([bytes.subarray(0, i), bytes.subarray(i)], options, onFrame), `split at ${i}`).toEqual(whole);
  }
  const bytewise: Buffer[] = [];
  for (let i = 0; i < bytes.length; i++) bytewise.push(bytes.subarray(i, i + 1));
  expect(decodeChunks(bytewise, options, onFrame), 'one byte at a time').toEqual(whole);
  return whole;
}

/** Expects every chunking of `bytes` to fail with this code and reason. */
function expectError(bytes: Buffer, code: string, reason: string, options?: DecoderOptions, onFrame?: OnFrame): void {
  const chunkings: Buffer[][] = [[bytes]];
  for (let i = 1; i < bytes.length; i++) chunkings.push([bytes.subarray(0, i), bytes.subarray(i)]);
  chunkings.push([...bytes].map((b) => Buffer.from([b])));
  for (const chunks of chunkings) {
    const d: StompDecoder = new StompDecoder({ onFrame: (f) => onFrame?.(f, d) }, options);
    let thrown: unknown;
    try {
      for (const c of chunks) d.push(c);
    } catch (err) {
      thrown = err;
    }
    expect(thrown, `chunks ${chunks.map((c) => c.length).join('+')}`).toBeInstanceOf(StompProtocolError);
    expect((thrown as StompProtocolError).code).toBe(code);
    expect((thrown as StompProtocolError).reason).toBe(reason);
  }
}

const b = (s: string): Buffer => Buffer.from(s, 'utf8');
const frame = (command: string, headers: Record<string, string>, body: string | Buffer = ''): Event => ({
  command,
  headers,
  body: typeof body === 'string' ? b(body) : body,
});

describe('StompDecoder: valid frames', () => {
  it('decodes a minimal CONNECT', () => {
    expect(decodeEverySplit(b('CONNECT\naccept-version:1.2\nhost:chat\n\n\0'))).toEqual([frame('CONNECT', { 'accept-version': '1.2', host: 'chat' })]);
  });

  it('accepts CRLF line endings for command and header lines', () => {
    expect(decodeEverySplit(b('SEND\r\ndestination:/a\r\ncontent-type:text/plain\r\n\r\nhello\0'))).toEqual([
      frame('SEND', { destination: '/a', 'content-type': 'text/plain' }, 'hello'),
    ]);
  });

  it('accepts mixed LF and CRLF in one frame', () => {
    expect(decodeEverySplit(b('SEND\ndestination:/a\r\nx:1\n\r\nhi\0'))).toEqual([frame('SEND', { destination: '/a', x: '1' }, 'hi')]);
  });

  it('reads exactly content-length bytes, NULs included', () => {
    const bytes = Buffer.concat([b('SEND\ndestination:/a\ncontent-length:5\n\n'), Buffer.from([1, 0, 2, 0, 3]), Buffer.from([0])]);
    expect(decodeEverySplit(bytes)).toEqual([frame('SEND', { destination: '/a', 'content-length': '5' }, Buffer.from([1, 0, 2, 0, 3]))]);
  });

  it('accepts content-length 0 and leading zeros', () => {
    expect(decodeEverySplit(b('SEND\ncontent-length:0\n\n\0SEND\ncontent-length:003\n\nabc\0'))).toEqual([
      frame('SEND', { 'content-length': '0' }),
      frame('SEND', { 'content-length': '003' }, 'abc'),
    ]);
  });

  it('without content-length the body ends at the first NUL', () => {
    expect(decodeEverySplit(b('SEND\ndestination:/a\n\nab\nc\0MESSAGE\n\n\0'))).toEqual([frame('SEND', { destination: '/a' }, 'ab\nc'), frame('MESSAGE', {})]);
  });

  it('reports heart-beats (LF and CRLF) before, between and after frames', () => {
    const events = decodeEverySplit(b('\n\r\nSEND\n\nx\0\n\r\n\nRECEIPT\nreceipt-id:7\n\n\0\r\n'));
    expect(events).toEqual(['HB', 'HB', frame('SEND', {}, 'x'), 'HB', 'HB', 'HB', frame('RECEIPT', { 'receipt-id': '7' }), 'HB']);
  });

  it('decodes many frames from one chunk', () => {
    const one = 'MESSAGE\nsubscription:s\nmessage-id:1\ndestination:/d\ncontent-length:2\n\nhi\0\n';
    const events = decodeChunks([b(one.repeat(100))]);
    expect(events.filter((e) => e !== 'HB')).toHaveLength(100);
    expect(events.filter((e) => e === 'HB')).toHaveLength(100);
  });

  it('decodes escapes in names and values of ordinary frames, in one pass', () => {
    expect(decodeEverySplit(b('SEND\ndestination:/a\\cb\\\\n\\r\\n\nna\\cme:x\\\\\\\\y\n\n\0'))).toEqual([
      frame('SEND', { destination: '/a:b\\n\r\n', 'na:me': 'x\\\\y' }),
    ]);
  });

  it('unescapes STOMP frames (only CONNECT and CONNECTED are exempt)', () => {
    expect(decodeEverySplit(b('STOMP\naccept-version:1.2\nhost:h\\cx\n\n\0'))).toEqual([frame('STOMP', { 'accept-version': '1.2', host: 'h:x' })]);
  });

  it('does not unescape CONNECT and CONNECTED frames', () => {
    expect(decodeEverySplit(b('CONNECT\nlogin:a\\tb\npasscode:p\\c\\\\\nhost:h:1\n\n\0CONNECTED\nserver:s\\n\n\n\0'))).toEqual([
      frame('CONNECT', { login: 'a\\tb', passcode: 'p\\c\\\\', host: 'h:1' }),
      frame('CONNECTED', { server: 's\\n' }),
    ]);
  });

  it('splits at the first colon and never trims', () => {
    expect(decodeEverySplit(b('SEND\n key : v:w \nempty:\n\n\0'))).toEqual([frame('SEND', { ' key ': ' v:w ', empty: '' })]);
  });

  it('keeps the first of repeated headers', () => {
    expect(decodeEverySplit(b('MESSAGE\nfoo:World\nfoo:Hello\n\n\0'))).toEqual([frame('MESSAGE', { foo: 'World' })]);
  });

  it('still validates the value of a repeated header', () => {
    expectError(b('SEND\nfoo:ok\nfoo:bad\\t\n\n\0'), 'bad-frame', 'invalid-escape');
  });

  it('uses the first content-length when repeated', () => {
    expect(decodeEverySplit(b('SEND\ncontent-length:3\ncontent-length:1\n\na\0c\0'))).toEqual([frame('SEND', { 'content-length': '3' }, 'a\0c')]);
  });

  it('decodes UTF-8 names and values', () => {
    expect(decodeEverySplit(b('SEND\n방:안녕하세요 ☃ 😀\nx:\uFFFD\n\n본문\0'))).toEqual([frame('SEND', { 방: '안녕하세요 ☃ 😀', x: '\uFFFD' }, '본문')]);
  });

  it('gives headers a null prototype', () => {
    const frames: Frame[] = [];
    new StompDecoder({ onFrame: (f) => frames.push(f) }).push(b('SEND\n__proto__:x\nconstructor:y\n\n\0'));
    expect(Object.getPrototypeOf(frames[0]!.headers)).toBeNull();
    expect(frames[0]!.headers['__proto__']).toBe('x');
    expect(frames[0]!.headers['constructor']).toBe('y');
    expect(frames[0]!.headers['toString']).toBeUndefined();
  });

  it('gives an empty Buffer when there is no body', () => {
    const frames: Frame[] = [];
    new StompDecoder({ onFrame: (f) => frames.push(f) }).push(b('DISCONNECT\nreceipt:1\n\n\0'));
    expect(Buffer.isBuffer(frames[0]!.body)).toBe(true);
    expect(frames[0]!.body.length).toBe(0);
  });

  it('does not copy a body that lies in one chunk', () => {
    const chunk = b('SEND\ncontent-length:3\n\nabc\0SEND\n\nxyz\0');
    const frames: Frame[] = [];
    new StompDecoder({ onFrame: (f) => frames.push(f) }).push(chunk);
    expect(frames[0]!.body.buffer).toBe(chunk.buffer);
    expect(frames[1]!.body.buffer).toBe(chunk.buffer);
  });

  it('accepts frames exactly at every limit', () => {
    const opts = { maxFrameBytes: 64, maxHeaders: 2, maxHeaderBytes: 10, maxCommandBytes: 4 };
    // 'SEND\n' 5 + 'a:12345678\n' 11 + 'b:1\n' 4 + '\n' 1 = 21 head bytes; body 42 + NUL = 64
    const bytes = b('SEND\r\na:12345678\r\nb:1\n\n' + 'x'.repeat(42 - 2) + '\0');
    expect(bytes.length).toBe(64);
    expect(decodeEverySplit(bytes, opts)).toHaveLength(1);
    const withLength = b('SEND\nb:1\ncontent-length:48\n\n' + 'y'.repeat(48) + '\0');
    expect(withLength.length).toBe(77);
    expect(decodeEverySplit(withLength, { maxFrameBytes: 77, maxHeaderBytes: 20 })).toHaveLength(1);
  });

  it('accepts only client commands when asked', () => {
    expect(decodeChunks([b('SUBSCRIBE\nid:0\ndestination:/d\n\n\0')], { commands: 'client' })).toHaveLength(1);
    expectError(b('MESSAGE\n\n\0'), 'bad-frame', 'unknown-command', { commands: 'client' });
    expectError(b('SEND\n\n\0'), 'bad-frame', 'unknown-command', { commands: 'server' });
  });
});

describe('StompDecoder: errors', () => {
  it('rejects unknown and lower-case commands', () => {
    expectError(b('HELLO\n\n\0'), 'bad-frame', 'unknown-command');
    expectError(b('send\n\n\0'), 'bad-frame', 'unknown-command');
    expectError(b('SEND \n\n\0'), 'bad-frame', 'unknown-command');
  });
  it('rejects a NUL or garbage where a command should start', () => {
    expectError(b('SEND\n\n\0\0\n'), 'bad-frame', 'unknown-command');
  });
  it('rejects a CR not followed by LF', () => {
    expectError(b('\rX'), 'bad-frame', 'invalid-eol');
    expectError(b('SEND\nde\rst:x\n\n\0'), 'bad-frame', 'invalid-eol');
    expectError(b('SEND\ndest:x\ry\n\n\0'), 'bad-frame', 'invalid-eol');
    expectError(b('SEND\ndest:x\r\r\n\n\0'), 'bad-frame', 'invalid-eol');
    expectError(b('SEND\r\r\n\n\0'), 'bad-frame', 'unknown-command');
  });
  it('rejects a header line without colon or with an empty name', () => {
    expectError(b('SEND\ndestination\n\n\0'), 'bad-frame', 'malformed-header');
    expectError(b('SEND\n:value\n\n\0'), 'bad-frame', 'malformed-header');
  });
  it('rejects undefined escapes and a trailing backslash', () => {
    expectError(b('SEND\ndestination:a\\tb\n\n\0'), 'bad-frame', 'invalid-escape');
    expectError(b('SEND\ndestination:ab\\\n\n\0'), 'bad-frame', 'invalid-escape');
    expectError(b('SEND\nna\\me:x\n\n\0'), 'bad-frame', 'invalid-escape');
    expectError(b('SEND\nname\\:x\n\n\0'), 'bad-frame', 'invalid-escape');
    expectError(b('STOMP\nlogin:a\\tb\n\n\0'), 'bad-frame', 'invalid-escape');
  });
  it('rejects invalid UTF-8 in names and values', () => {
    const frames = [
      Buffer.concat([b('SEND\nx:'), Buffer.from([0xff]), b('\n\n\0')]),
      Buffer.concat([b('SEND\nx:'), Buffer.from([0xc3]), b('\n\n\0')]), // truncated sequence
      Buffer.concat([b('SEND\nx:'), Buffer.from([0xc0, 0xaf]), b('\n\n\0')]), // overlong
      Buffer.concat([b('SEND\nx:'), Buffer.from([0xed, 0xa0, 0x80]), b('\n\n\0')]), // surrogate
      Buffer.concat([b('SEND\n'), Buffer.from([0xe2, 0x82]), b(':v\n\n\0')]),
      Buffer.concat([b('CONNECT\nlogin:'), Buffer.from([0xfe]), b('\n\n\0')]),
    ];
    for (const f of frames) expectError(f, 'bad-frame', 'invalid-utf8');
  });
  it('rejects a content-length body not followed by NUL', () => {
    expectError(b('SEND\ncontent-length:2\n\nabc\0'), 'bad-frame', 'missing-nul');
    expectError(b('SEND\ncontent-length:0\n\nx'), 'bad-frame', 'missing-nul');
    expectError(b('SEND\ncontent-length:2\n\nab\n'), 'bad-frame', 'missing-nul');
  });
  it('rejects a content-length that is not a non-negative decimal integer', () => {
    for (const v of ['', '-1', '+1', '1.0', ' 1', '1 ', '0x10', '1e3', 'abc', '١']) {
      expectError(b(`SEND\ncontent-length:${v}\n\n\0`), 'bad-frame', 'bad-content-length');
    }
  });
  it('refuses a content-length above the frame limit before reading the body', () => {
    const d = new StompDecoder({ onFrame: () => {} });
    expect(() => d.push(b('SEND\ncontent-length:99999999999999999999\n'))).toThrow(
      expect.objectContaining({ code: 'frame-too-large', reason: 'body-too-large' }),
    );
    expectError(b('SEND\ncontent-length:65536\n\n'), 'frame-too-large', 'body-too-large');
    expectError(b('SEND\ncontent-length:100\n\n'), 'frame-too-large', 'body-too-large', { maxFrameBytes: 120 });
  });
  it('refuses a frame one byte over maxFrameBytes, with or without content-length', () => {
    const opts = { maxFrameBytes: 64, maxHeaderBytes: 20 };
    expectError(b('SEND\na:12345678\nb:1\n\n' + 'x'.repeat(43) + '\0'), 'frame-too-large', 'body-too-large', opts);
    expectError(b('SEND\nb:1\ncontent-length:36\n\n' + 'y'.repeat(36) + '\0'), 'frame-too-large', 'body-too-large', opts);
    expect(decodeChunks([b('SEND\nb:1\ncontent-length:35\n\n' + 'y'.repeat(35) + '\0')], opts)).toHaveLength(1);
  });
  it('refuses a body without NUL and without content-length once it passes the limit', () => {
    const d = new StompDecoder({ onFrame: () => {} }, { maxFrameBytes: 1000 });
    d.push(b('SEND\n\n'));
    const chunk = Buffer.alloc(100, 0x61);
    let pushed = 0;
    expect(() => {
      for (;;) {
        d.push(chunk);
        pushed += chunk.length;
        expect(d.bufferedBytes).toBeLessThanOrEqual(1000);
      }
    }).toThrow(expect.objectContaining({ code: 'frame-too-large', reason: 'body-too-large' }));
    expect(pushed).toBeLessThan(1000);
  });
  it('refuses endless header lines without the blank line', () => {
    const d = new StompDecoder({ onFrame: () => {} }, { maxFrameBytes: 4096, maxHeaders: 10_000 });
    d.push(b('SEND\n'));
    expect(() => {
      for (let i = 0; ; i++) {
        d.push(b(`h${i}:value\n`));
        expect(d.bufferedBytes).toBeLessThanOrEqual(4096);
      }
    }).toThrow(expect.objectContaining({ code: 'frame-too-large' }));
  });
  it('limits the number of headers', () => {
    expectError(b('SEND\n' + 'a:1\n'.repeat(33) + '\n\0'), 'frame-too-large', 'too-many-headers');
    expect(decodeChunks([b('SEND\n' + 'a:1\n'.repeat(32) + '\n\0')])).toHaveLength(1);
    expectError(b('SEND\na:1\nb:2\nc:3\n\n\0'), 'frame-too-large', 'too-many-headers', { maxHeaders: 2 });
  });
  it('limits the length of one header line', () => {
    const ok = 'SEND\nx:' + 'v'.repeat(1022) + '\r\n\n\0';
    expect(decodeEverySplit(b(ok))).toHaveLength(1);
    expectError(b('SEND\nx:' + 'v'.repeat(1023) + '\n\n\0'), 'frame-too-large', 'header-too-long');
    expectError(b('SEND\nx:' + 'v'.repeat(1023) + '\r\n\n\0'), 'frame-too-large', 'header-too-long');
    expectError(b('SEND\nx:' + 'v'.repeat(5000)), 'frame-too-large', 'header-too-long');
  });
  it('limits the command line without buffering more', () => {
    expectError(b('X'.repeat(40)), 'bad-frame', 'command-too-long');
    expectError(b('X'.repeat(33) + '\n'), 'bad-frame', 'command-too-long');
    const d = new StompDecoder({ onFrame: () => {} });
    d.push(b('X'.repeat(33)));
    expect(d.bufferedBytes).toBe(33);
    expect(() => d.push(b('X'))).toThrow(expect.objectContaining({ reason: 'command-too-long' }));
  });
  it('is dead after a throw: later pushes throw the same error', () => {
    const d = new StompDecoder({ onFrame: () => {} });
    let first: unknown;
    try {
      d.push(b('BAD\n\n\0'));
    } catch (err) {
      first = err;
    }
    expect(first).toBeInstanceOf(StompProtocolError);
    expect(() => d.push(b('SEND\n\n\0'))).toThrow(first as Error);
    expect(d.bufferedBytes).toBe(0);
  });
  it('is dead after a handler throws', () => {
    const boom = new Error('boom');
    const seen: string[] = [];
    const d = new StompDecoder({
      onFrame: (f) => {
        seen.push(f.command);
        throw boom;
      },
    });
    expect(() => d.push(b('SEND\n\n\0SEND\n\n\0'))).toThrow(boom);
    expect(() => d.push(b('SEND\n\n\0'))).toThrow(boom);
    expect(seen).toEqual(['SEND']);
  });
  it('rejects invalid limits', () => {
    expect(() => new StompDecoder({ onFrame: () => {} }, { maxFrameBytes: 0 })).toThrow(RangeError);
    expect(() => new StompDecoder({ onFrame: () => {} }, { maxHeaders: 1.5 })).toThrow(RangeError);
  });
});

describe('StompDecoder: bufferedBytes', () => {
  it('counts the retained bytes of the partial frame and returns to 0 between frames', () => {
    const d = new StompDecoder({ onFrame: () => {} });
    d.push(b('\n\n'));
    expect(d.bufferedBytes).toBe(0);
    d.push(b('SEN'));
    expect(d.bufferedBytes).toBe(3);
    d.push(b('D\ncontent-length:4\n\nab'));
    expect(d.bufferedBytes).toBe(25);
    d.push(b('cd'));
    expect(d.bufferedBytes).toBe(27);
    d.push(b('\0'));
    expect(d.bufferedBytes).toBe(0);
  });

  it('keeps no pushed chunk once its frames are out, as push() promises (an idle connection holds none)', async () => {
    v8.setFlagsFromString('--expose-gc');
    const gc = vm.runInNewContext('gc') as () => void;
    const d = new StompDecoder({ onFrame: () => {} });
    // Chunks of their own memory (not Node's shared pool), watched through weak references only.
    const chunks = ['CONNECT\naccept-version:1.2\nhost:/\n\n\0', 'SEND\ndestination:/a\n\nhi\0\n'].map((f) => {
      const chunk = Buffer.from(new ArrayBuffer(f.length));
      chunk.write(f, 'latin1');
      d.push(chunk);
      return new WeakRef(chunk);
    });
    // A WeakRef holds its target until the current job ends.
    await new Promise((resolve) => setImmediate(resolve));
    gc();
    expect(chunks.map((c) => c.deref())).toEqual([undefined, undefined]);
    expect(d.bufferedBytes).toBe(0);
  });
});

describe('StompDecoder: versions', () => {
  const VERSIONS: readonly StompVersion[] = ['1.0', '1.1', '1.2'];
  /** A server: once CONNECT is decoded, switch to the negotiated version from inside onFrame. */
  const negotiate =
    (version: StompVersion): OnFrame =>
    (f, d) => {
      if (f.command === 'CONNECT') d.version = version;
    };

  it('STOMP 1.2 is the default', () => {
    expect(new StompDecoder({ onFrame: () => {} }).version).toBe('1.2');
    const bytes = b('SEND\ndestination:/a\\cb\\r\\n\\\\\n\n\0');
    expect(decodeEverySplit(bytes, { version: '1.2' })).toEqual(decodeEverySplit(bytes));
    expect(decodeEverySplit(bytes)).toEqual([frame('SEND', { destination: '/a:b\r\n\\' })]);
  });

  it('STOMP 1.1 decodes \\n \\c \\\\ in one pass', () => {
    const bytes = b('SEND\ndestination:/a\\cb\\\\n\\n\nna\\cme:x\\\\\\\\y\n\n\0');
    expect(decodeEverySplit(bytes, { version: '1.1' })).toEqual([frame('SEND', { destination: '/a:b\\n\n', 'na:me': 'x\\\\y' })]);
  });

  it('STOMP 1.1 rejects the \\r escape and every other undefined escape', () => {
    const v11 = { version: '1.1' } as const;
    expectError(b('SEND\ndestination:a\\rb\n\n\0'), 'bad-frame', 'invalid-escape', v11);
    expectError(b('SEND\nna\\rme:x\n\n\0'), 'bad-frame', 'invalid-escape', v11);
    expectError(b('SEND\ndestination:a\\tb\n\n\0'), 'bad-frame', 'invalid-escape', v11);
    expectError(b('SEND\ndestination:ab\\\n\n\0'), 'bad-frame', 'invalid-escape', v11);
  });

  it('STOMP 1.0 takes names and values literally: backslashes and colons are data', () => {
    const bytes = b('SEND\ndestination:/a\\tb\\\nx\\c:\\r\\n\\\\\ncreated-at:2026-01-01T10:41:00.492Z\n\nbody\0');
    expect(decodeEverySplit(bytes, { version: '1.0' })).toEqual([
      frame('SEND', { destination: '/a\\tb\\', 'x\\c': '\\r\\n\\\\', 'created-at': '2026-01-01T10:41:00.492Z' }, 'body'),
    ]);
  });

  it('STOMP 1.0 still enforces EOLs, UTF-8 and limits', () => {
    const v10 = { version: '1.0' } as const;
    expectError(b('SEND\ndest:x\ry\n\n\0'), 'bad-frame', 'invalid-eol', v10);
    expectError(Buffer.concat([b('SEND\nx:\\'), Buffer.from([0xff]), b('\n\n\0')]), 'bad-frame', 'invalid-utf8', v10);
    expectError(b('SEND\nx:' + '\\'.repeat(1023) + '\n\n\0'), 'frame-too-large', 'header-too-long', v10);
    expectError(b('SEND\n:\\\n\n\0'), 'bad-frame', 'malformed-header', v10);
  });

  it('never unescapes CONNECT and CONNECTED, in any version', () => {
    const bytes = b('CONNECT\nlogin:a\\tb\npasscode:p\\c\\r\n\n\0CONNECTED\nserver:s\\n\n\n\0');
    for (const version of VERSIONS) {
      expect(decodeEverySplit(bytes, { version })).toEqual([frame('CONNECT', { login: 'a\\tb', passcode: 'p\\c\\r' }), frame('CONNECTED', { server: 's\\n' })]);
    }
  });

  it('applies a version set inside onFrame to the next frame of the same chunk', () => {
    // CONNECT and a SEND with a `\t`-looking value arrive together; the server negotiates 1.0 on CONNECT.
    const bytes = b('CONNECT\naccept-version:1.0\nhost:h\n\n\0SEND\ndestination:/a\nx:C:\\temp\\new\n\nhi\0');
    expect(decodeEverySplit(bytes, undefined, negotiate('1.0'))).toEqual([
      frame('CONNECT', { 'accept-version': '1.0', host: 'h' }),
      frame('SEND', { destination: '/a', x: 'C:\\temp\\new' }, 'hi'),
    ]);
    // Without the switch the same bytes are a 1.2 protocol error (undefined escape \t).
    expectError(bytes, 'bad-frame', 'invalid-escape');
    // 1.1 negotiated: \n decodes, \r is refused.
    const v11 = b('CONNECT\naccept-version:1.1\n\n\0SEND\nx:a\\nb\n\n\0SEND\nx:a\\rb\n\n\0');
    expectError(v11, 'bad-frame', 'invalid-escape', undefined, negotiate('1.1'));
    expect(decodeEverySplit(v11.subarray(0, v11.indexOf('SEND\nx:a\\r')), undefined, negotiate('1.1'))).toEqual([
      frame('CONNECT', { 'accept-version': '1.1' }),
      frame('SEND', { x: 'a\nb' }),
    ]);
  });

  it('decodes a frame with the version in force when its command line was read', () => {
    const frames: Frame[] = [];
    const d = new StompDecoder({ onFrame: (f) => frames.push(f) }, { version: '1.0' });
    d.push(b('SEND\nx:a\\'));
    d.version = '1.2'; // mid-frame: applies from the next frame on
    d.push(b('tb\n\n\0SEND\nx:a\\cb\n\n\0'));
    expect(frames.map((f) => f.headers['x'])).toEqual(['a\\tb', 'a:b']);
    expect(d.version).toBe('1.2');
  });

  it('refuses unknown versions with RangeError', () => {
    expect(() => new StompDecoder({ onFrame: () => {} }, { version: '1.3' as never })).toThrow(RangeError);
    const d = new StompDecoder({ onFrame: () => {} });
    expect(() => (d.version = '2.0' as never)).toThrow(RangeError);
    expect(d.version).toBe('1.2');
  });
});

describe('StompDecoder: trailing EOLs', () => {
  function beats(chunks: Buffer[]): (string | boolean)[] {
    const out: (string | boolean)[] = [];
    const d = new StompDecoder({ onFrame: (f) => out.push(f.command), onHeartbeat: (t) => out.push(t) });
    for (const c of chunks) d.push(c);
    return out;
  }

  it('flags the first EOL right after a NUL as trailing, whatever the chunking', () => {
    const bytes = b('\nSEND\n\nx\0\n\r\n\nRECEIPT\nreceipt-id:7\n\n\0\r\n\nMESSAGE\n\n\0DISCONNECT\n\n\0');
    const expected = [false, 'SEND', true, false, false, 'RECEIPT', true, false, 'MESSAGE', 'DISCONNECT'];
    expect(beats([bytes])).toEqual(expected);
    for (let i = 0; i <= bytes.length; i++) {
      expect(beats([bytes.subarray(0, i), bytes.subarray(i)]), `split at ${i}`).toEqual(expected);
    }
    expect(beats([...bytes].map((x) => Buffer.from([x])))).toEqual(expected);
  });
});

// ---------------------------------------------------------------------------------------------------------------
// Properties

const CLIENT = [...CLIENT_COMMANDS];
const SERVER = [...SERVER_COMMANDS];

// Values with every character that needs escaping, plus arbitrary unicode.
const anyText = fc.string({
  unit: fc.oneof(
    { weight: 3, arbitrary: fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }) },
    { weight: 1, arbitrary: fc.constantFrom(':', '\n', '\r', '\\', '\\n', '\0', '한', '😀') },
  ),
  maxLength: 20,
});
// Restricted to what each version can carry: 1.1 has no CR; 1.0 (and CONNECT/CONNECTED in every version) neither CR
// nor LF, nor ':' in a name. Backslashes stay: 1.0 takes them literally.
const noCr = anyText.map((s) => s.replace(/\r/g, ''));
const rawName = anyText.map((s) => s.replace(/[\r\n:]/g, ''));
const rawValue = anyText.map((s) => s.replace(/[\r\n]/g, ''));

/** Frames as `version` can encode them. */
const frameArb = (version: StompVersion) =>
  fc.constantFrom(...CLIENT, ...SERVER).chain((command) => {
    const style = usesEscaping(command) ? version : '1.0';
    const name = style === '1.2' ? anyText : style === '1.1' ? noCr : rawName;
    const value = style === '1.2' ? anyText : style === '1.1' ? noCr : rawValue;
    return fc.record({
      command: fc.constant(command),
      headers: fc.uniqueArray(
        fc.tuple(
          name.filter((n) => n.length > 0 && n !== 'content-length'),
          value,
        ),
        { selector: (h) => h[0], maxLength: 8 },
      ),
      body: fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a)),
      heartbeats: fc.constantFrom('', '\n', '\r\n', '\n\n'),
    });
  });

/** A version and frames that version can carry. */
const streamArb = (maxFrames: number) =>
  fc
    .constantFrom<StompVersion>('1.0', '1.1', '1.2')
    .chain((version) => fc.tuple(fc.constant(version), fc.array(frameArb(version), { minLength: 1, maxLength: maxFrames })));

/** Splits `bytes` at the given (sorted, deduplicated) offsets. */
function splitAt(bytes: Buffer, cuts: number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((x, y) => x - y);
  const out: Buffer[] = [];
  let last = 0;
  for (const p of points) {
    out.push(bytes.subarray(last, p));
    last = p;
  }
  out.push(bytes.subarray(last));
  return out;
}

const roomy: DecoderOptions = { maxFrameBytes: 1 << 20, maxHeaderBytes: 1 << 16, maxHeaders: 64 };

describe('StompDecoder: properties', () => {
  it('decodes what encodeFrame produced for the same version, however it is chunked', () => {
    fc.assert(
      fc.property(streamArb(6), fc.array(fc.nat(), { maxLength: 12 }), ([version, frames], cuts) => {
        const bytes = Buffer.concat(frames.map((f) => Buffer.concat([encodeFrame(f.command, f.headers, f.body, version), b(f.heartbeats)])));
        const expected: Event[] = [];
        for (const f of frames) {
          const entries = [...f.headers];
          if (f.body.length > 0) entries.push(['content-length', String(f.body.length)]);
          const headers = Object.fromEntries(entries) as Record<string, string>;
          expected.push({ command: f.command, headers, body: f.body });
          expected.push('HB'); // the EOL every encoded frame ends with
          for (const _ of f.heartbeats.match(/\n/g) ?? []) expected.push('HB');
        }
        expect(decodeChunks(splitAt(bytes, cuts), { ...roomy, version })).toEqual(expected);
      }),
      { numRuns: 500 },
    );
  });

  const small: DecoderOptions = { maxFrameBytes: 200, maxHeaderBytes: 40, maxHeaders: 4, maxCommandBytes: 12 };

  function survives(chunks: Buffer[], options: DecoderOptions, maxFrameBytes: number): void {
    const d = new StompDecoder({ onFrame: () => {}, onHeartbeat: () => {} }, options);
    try {
      for (const c of chunks) {
        d.push(c);
        expect(d.bufferedBytes).toBeLessThanOrEqual(maxFrameBytes);
      }
    } catch (err) {
      if (!(err instanceof StompProtocolError)) throw err;
      expect(d.bufferedBytes).toBe(0);
      expect(() => d.push(b('\n'))).toThrow(err);
    }
  }

  it('random bytes only ever raise StompProtocolError and stay within the limit', () => {
    const bytesArb = fc.oneof(
      fc.uint8Array({ maxLength: 600 }),
      // Bias towards the structural bytes so the decoder gets past the command line.
      fc
        .array(fc.constantFrom(...b('SEND\nMESSAGE\ncontent-length:3\n\r\0:\\ncx0123456789\n\n'), 0xff, 0xc3, 0xa9), { maxLength: 600 })
        .map((a) => Uint8Array.from(a)),
    );
    fc.assert(
      fc.property(bytesArb, fc.array(fc.nat(), { maxLength: 10 }), (bytes, cuts) => {
        const buf = Buffer.from(bytes);
        survives(splitAt(buf, cuts), small, 200);
        survives(splitAt(buf, cuts), {}, 65536);
      }),
      { numRuns: 2000 },
    );
  });

  it('mutated valid streams only ever raise StompProtocolError and stay within the limit', () => {
    const mutation = fc.record({
      at: fc.nat(),
      kind: fc.constantFrom('flip', 'insert', 'delete', 'dup'),
      byte: fc.constantFrom(0, 10, 13, 58, 92, 0x30, 0x41, 0xff, 0xc3),
    });
    fc.assert(
      fc.property(
        streamArb(4),
        fc.array(mutation, { minLength: 1, maxLength: 5 }),
        fc.array(fc.nat(), { maxLength: 10 }),
        ([version, frames], mutations, cuts) => {
          let bytes = [...Buffer.concat(frames.map((f) => encodeFrame(f.command, f.headers, f.body, version)))];
          for (const m of mutations) {
            const i = m.at % (bytes.length + 1);
            if (m.kind === 'flip' && i < bytes.length) bytes[i] = m.byte;
            else if (m.kind === 'insert') bytes.splice(i, 0, m.byte);
            else if (m.kind === 'delete') bytes.splice(i, 1);
            else bytes = bytes.concat(bytes.slice(i));
          }
          const buf = Buffer.from(bytes);
          survives(splitAt(buf, cuts), { ...small, version }, 200);
          survives(splitAt(buf, cuts), { ...roomy, version }, 1 << 20);
        },
      ),
      { numRuns: 1000 },
    );
  });
});
