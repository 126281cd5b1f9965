import jwt from 'jsonwebtoken';
import { describe, expect, it } from 'vitest';
import { createTokenService } from './tokens.js';

const SECRET = 'unit-test-secret-0123456789abcdef';

const refused = (fn: () => unknown, message: string) => {
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  expect(err).toMatchObject({ code: 'unauthorized', message });
};

describe('token service (HS256 with one KeyObject)', () => {
  const tokens = createTokenService(SECRET, 3600);

  it('verifies what it issues: the user id and the expiry', () => {
    const before = Date.now();
    const v = tokens.verify(tokens.issue('42'));
    expect(v.userId).toBe('42');
    expect(v.expiresAt).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000 + 3600_000);
  });

  it('a token signed with the same secret as a plain string (older instances) is accepted; another secret is not', () => {
    expect(tokens.verify(jwt.sign({}, SECRET, { algorithm: 'HS256', subject: '7' })).userId).toBe('7');
    refused(() => tokens.verify(jwt.sign({}, `${SECRET}x`, { algorithm: 'HS256', subject: '7' })), 'invalid token');
  });

  it('refuses alg none, other algorithms, expired tokens and subjects that are not canonical ids', () => {
    refused(() => tokens.verify(jwt.sign({ sub: '1' }, '', { algorithm: 'none' })), 'invalid token');
    refused(() => tokens.verify(jwt.sign({}, SECRET, { algorithm: 'HS512', subject: '1' })), 'invalid token');
    refused(() => tokens.verify(jwt.sign({ exp: Math.floor(Date.now() / 1000) - 10 }, SECRET, { algorithm: 'HS256', subject: '1' })), 'token expired');
    for (const sub of ['01', '-1', 'abc', '99999999999999999999']) {
      refused(() => tokens.verify(jwt.sign({}, SECRET, { algorithm: 'HS256', subject: sub })), 'invalid token');
    }
  });
});
