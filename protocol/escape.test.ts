import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { escapeHeader, unescapeHeader } from './escape.js';
import { StompProtocolError } from './errors.js';

function reasonOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(StompProtocolError);
    return (err as StompProtocolError).reason;
  }
  throw new Error('expected a throw');
}

describe('escapeHeader', () => {
  it('escapes backslash, CR, LF and colon', () => {
    expect(escapeHeader('a\\b\rc\nd:e')).toBe('a\\\\b\\rc\\nd\\ce');
  });
  it('returns the same string when nothing needs escaping', () => {
    const s = '/topic/room.42 한국어 ☃';
    expect(escapeHeader(s)).toBe(s);
  });
  it('leaves other control characters alone', () => {
    expect(escapeHeader('a\tb\0c')).toBe('a\tb\0c');
  });
});

describe('unescapeHeader', () => {
  it('decodes the four escapes', () => {
    expect(unescapeHeader('\\r\\n\\c\\\\')).toBe('\r\n:\\');
  });
  it('decodes in one pass: \\\\n is a backslash then n', () => {
    expect(unescapeHeader('a\\\\nb')).toBe('a\\nb');
    expect(unescapeHeader('\\\\\\\\')).toBe('\\\\');
    expect(unescapeHeader('\\\\c')).toBe('\\c');
  });
  it('rejects undefined escapes', () => {
    for (const bad of ['\\t', 'a\\b', '\\0', '\\C', '\\N', '\\ ', '\\:', '\\한']) {
      expect(reasonOf(() => unescapeHeader(bad))).toBe('invalid-escape');
    }
  });
  it('rejects a trailing lone backslash', () => {
    expect(reasonOf(() => unescapeHeader('abc\\'))).toBe('invalid-escape');
    expect(reasonOf(() => unescapeHeader('\\\\\\'))).toBe('invalid-escape');
  });
  it('inverts escapeHeader for every string', () => {
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom('\\', ':', '\r', '\n', 'c', 'n', 'r', 'a', '한') }), (s) => {
        expect(unescapeHeader(escapeHeader(s))).toBe(s);
      }),
      { numRuns: 2000 },
    );
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (s) => {
        expect(unescapeHeader(escapeHeader(s))).toBe(s);
      }),
    );
  });
  it('escaped output never contains raw CR, LF or colon', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (s) => {
        expect(escapeHeader(s)).not.toMatch(/[\r\n:]/);
      }),
    );
  });
});

describe('STOMP 1.1 escaping', () => {
  it('escapes backslash, LF and colon, and refuses CR', () => {
    expect(escapeHeader('a\\b\nc:d', '1.1')).toBe('a\\\\b\\nc\\cd');
    expect(() => escapeHeader('a\rb', '1.1')).toThrow(RangeError);
    expect(() => escapeHeader('\r', '1.1')).toThrow(RangeError);
  });
  it('decodes \\n \\c \\\\ in one pass', () => {
    expect(unescapeHeader('\\n\\c\\\\', '1.1')).toBe('\n:\\');
    expect(unescapeHeader('a\\\\nb', '1.1')).toBe('a\\nb');
    expect(unescapeHeader('a\\\\rb', '1.1')).toBe('a\\rb');
  });
  it('rejects \\r (undefined in 1.1) and every other undefined escape', () => {
    for (const bad of ['\\r', 'a\\rb', '\\t', '\\R', 'abc\\']) {
      expect(reasonOf(() => unescapeHeader(bad, '1.1'))).toBe('invalid-escape');
    }
  });
  it('inverts escapeHeader for every string without CR', () => {
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom('\\', ':', '\n', 'c', 'n', 'r', 'a', '한') }), (s) => {
        expect(unescapeHeader(escapeHeader(s, '1.1'), '1.1')).toBe(s);
        // Whatever 1.1 can carry, it writes exactly as 1.2 does.
        expect(escapeHeader(s, '1.1')).toBe(escapeHeader(s, '1.2'));
      }),
      { numRuns: 1000 },
    );
  });
});

describe('STOMP 1.0 (no escaping)', () => {
  it('writes names and values literally and refuses CR and LF', () => {
    for (const s of ['a\\b', '2026-01-01T10:41:00.492Z', '\\n\\c\\\\', 'x\ty']) {
      expect(escapeHeader(s, '1.0')).toBe(s);
    }
    expect(() => escapeHeader('a\nb', '1.0')).toThrow(RangeError);
    expect(() => escapeHeader('a\rb', '1.0')).toThrow(RangeError);
  });
  it('decodes nothing: a backslash is data, even a lone one', () => {
    for (const s of ['\\t', '\\n\\r\\c\\\\', 'abc\\', 'a:b']) expect(unescapeHeader(s, '1.0')).toBe(s);
  });
});

describe('unknown versions', () => {
  it('are refused with RangeError', () => {
    expect(() => escapeHeader('a:b', '2.0' as never)).toThrow(RangeError);
    expect(() => unescapeHeader('a\\cb', '1.3' as never)).toThrow(RangeError);
  });
});
