import { describe, it, expect } from 'vitest';
import { ALL_COMMANDS, CLIENT_COMMANDS, SERVER_COMMANDS, checkVersion, usesEscaping } from './frame.js';

describe('command sets', () => {
  it('match the STOMP 1.2 BNF', () => {
    expect([...CLIENT_COMMANDS].sort()).toEqual(
      ['ABORT', 'ACK', 'BEGIN', 'COMMIT', 'CONNECT', 'DISCONNECT', 'NACK', 'SEND', 'STOMP', 'SUBSCRIBE', 'UNSUBSCRIBE'].sort(),
    );
    expect([...SERVER_COMMANDS].sort()).toEqual(['CONNECTED', 'ERROR', 'MESSAGE', 'RECEIPT']);
    expect(ALL_COMMANDS.size).toBe(15);
  });
  it('only CONNECT and CONNECTED skip escaping', () => {
    for (const c of ALL_COMMANDS) expect(usesEscaping(c)).toBe(c !== 'CONNECT' && c !== 'CONNECTED');
  });
});

describe('checkVersion', () => {
  it('accepts exactly 1.0, 1.1 and 1.2', () => {
    for (const v of ['1.0', '1.1', '1.2']) expect(() => checkVersion(v)).not.toThrow();
    for (const v of ['', '1', '1.3', '2.0', ' 1.2', '1.2 ', 'v12.stomp']) expect(() => checkVersion(v)).toThrow(RangeError);
  });
});
