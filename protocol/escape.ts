// STOMP header value encoding, per version ("Value Encoding"): 1.2 `\r \n \c \\`; 1.1 `\n \c \\`; 1.0 none.

import { badFrame } from './errors.js';
import { checkVersion } from './frame.js';
import type { StompVersion } from './frame.js';

const NEEDS_ESCAPE = /[\\\r\n:]/;
const NEEDS_ESCAPE_G = /[\\\r\n:]/g;
const CR_OR_LF = /[\r\n]/;

function escapeChar(c: string): string {
  switch (c) {
    case '\\':
      return '\\\\';
    case '\r':
      return '\\r';
    case '\n':
      return '\\n';
    default:
      return '\\c';
  }
}

/**
 * The wire form of a header name or value of any frame except CONNECT/CONNECTED (which are never escaped: use
 * the 1.0 rules for them). Returns `s` itself when nothing needs escaping.
 * - `'1.2'` (default): backslash -> `\\`, CR -> `\r`, LF -> `\n`, colon -> `\c`.
 * - `'1.1'`: the same without CR, which STOMP 1.1 cannot carry: a CR throws RangeError.
 * - `'1.0'`: nothing is escaped: `s` is returned as is, and a CR or LF throws RangeError. This function cannot
 *   tell a name from a value, so a ':' (which a 1.0 name cannot carry) is not refused here; encodeFrame does that.
 * RangeError messages never quote `s` (it may be a passcode).
 */
export function escapeHeader(s: string, version: StompVersion = '1.2'): string {
  // The test is cheaper than a replace on the common header without special characters.
  if (!NEEDS_ESCAPE.test(s)) return s;
  if (version === '1.2') return s.replace(NEEDS_ESCAPE_G, escapeChar);
  checkVersion(version);
  if (version === '1.1') {
    if (s.includes('\r')) throw new RangeError('a STOMP 1.1 header cannot carry CR (1.1 has no escape for it)');
    return s.replace(NEEDS_ESCAPE_G, escapeChar);
  }
  if (CR_OR_LF.test(s)) throw new RangeError('a STOMP 1.0 header cannot carry CR or LF (1.0 has no escaping)');
  return s;
}

/**
 * Decodes a header name or value of any frame except CONNECT/CONNECTED, in ONE left-to-right pass, so `\\n` is a
 * backslash followed by `n` (chained replaces get this wrong).
 * - `'1.2'` (default): `\r \n \c \\`.
 * - `'1.1'`: `\n \c \\`; `\r` is an undefined escape in 1.1.
 * - `'1.0'`: nothing: `s` is returned as is (a backslash is data).
 * In 1.1 and 1.2 any other escape, or a trailing lone backslash, is a fatal protocol error per the specification.
 * @throws StompProtocolError('bad-frame', 'invalid-escape')
 */
export function unescapeHeader(s: string, version: StompVersion = '1.2'): string {
  let i = s.indexOf('\\');
  if (i === -1) return s;
  if (version !== '1.2') {
    checkVersion(version);
    if (version === '1.0') return s;
  }
  const cr = version === '1.2';
  let out = '';
  let last = 0;
  while (i !== -1) {
    out += s.slice(last, i);
    const c = s.charCodeAt(i + 1); // NaN past the end
    if (c === 110 /* n */) out += '\n';
    else if (c === 99 /* c */) out += ':';
    else if (c === 92 /* \ */) out += '\\';
    else if (c === 114 /* r */ && cr) out += '\r';
    else {
      throw badFrame(
        'invalid-escape',
        i + 1 < s.length ? `undefined escape sequence \\${s[i + 1]} in a STOMP ${version} header` : 'header ends with a lone backslash',
      );
    }
    last = i + 2;
    i = s.indexOf('\\', last);
  }
  return out + s.slice(last);
}
