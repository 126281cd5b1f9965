// STOMP 1.2 header value encoding: `\r` `\n` `\c` `\\` and nothing else ("Value Encoding").

import { badFrame } from './errors.js';

const NEEDS_ESCAPE = /[\\\r\n:]/;
const NEEDS_ESCAPE_G = /[\\\r\n:]/g;

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
 * Escapes a header name or value for any frame except CONNECT/CONNECTED:
 * backslash -> `\\`, CR -> `\r`, LF -> `\n`, colon -> `\c`. Returns `s` itself when nothing needs escaping.
 */
export function escapeHeader(s: string): string {
  // The test is cheaper than a replace on the common header without special characters.
  return NEEDS_ESCAPE.test(s) ? s.replace(NEEDS_ESCAPE_G, escapeChar) : s;
}

/**
 * Decodes the four STOMP 1.2 escapes in ONE left-to-right pass, so `\\n` is a backslash followed by `n`
 * (chained replaces get this wrong). Any other escape, or a trailing lone backslash, is a fatal protocol
 * error per the specification.
 * @throws StompProtocolError('bad-frame', 'invalid-escape')
 */
export function unescapeHeader(s: string): string {
  let i = s.indexOf('\\');
  if (i === -1) return s;
  let out = '';
  let last = 0;
  while (i !== -1) {
    out += s.slice(last, i);
    const c = s.charCodeAt(i + 1); // NaN past the end
    if (c === 110 /* n */) out += '\n';
    else if (c === 114 /* r */) out += '\r';
    else if (c === 99 /* c */) out += ':';
    else if (c === 92 /* \ */) out += '\\';
    else {
      throw badFrame(
        'invalid-escape',
        i + 1 < s.length ? `undefined escape sequence \\${s[i + 1]} in a header` : 'header ends with a lone backslash',
      );
    }
    last = i + 2;
    i = s.indexOf('\\', last);
  }
  return out + s.slice(last);
}
