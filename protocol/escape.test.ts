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
