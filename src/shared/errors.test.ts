// The error-code registry against the contract: the STOMP ERROR `message` codes, HTTP statuses, kebab-case.
import { describe, expect, it } from 'vitest';
import { AppError, ERROR_CODES, STOMP_ERROR_CODES, appError } from './errors.js';

// Copied from API.md ("ERROR frames carry a short `message` header — ..."): the repository keeps no copy of the
// contract to parse at run time, so the list lives here. Keep it in step with the contract.
const API_STOMP_ERROR_CODES = [
  'unauthorized',
  'forbidden',
  'bad-frame',
  'frame-too-large',
  'unknown-destination',
  'rate-limited',
  'invalid-message',
  'server-unavailable',
];

// REST codes API.md names with their status.
const API_REST_CODES: Record<string, number> = {
  'email-taken': 409,
  'invalid-credentials': 401,
  unauthorized: 401,
  forbidden: 403,
};

describe('error codes', () => {
  it('STOMP_ERROR_CODES is exactly the list of API.md', () => {
    expect([...STOMP_ERROR_CODES].sort()).toEqual([...API_STOMP_ERROR_CODES].sort());
    expect(new Set(STOMP_ERROR_CODES).size).toBe(STOMP_ERROR_CODES.length);
  });

  it('every STOMP code is a registered error code', () => {
    for (const code of STOMP_ERROR_CODES) expect(Object.keys(ERROR_CODES)).toContain(code);
  });

  it('every code is kebab-case and has a numeric HTTP error status', () => {
    for (const [code, status] of Object.entries(ERROR_CODES)) {
      expect(code, code).toMatch(/^[a-z]+(-[a-z]+)*$/);
      expect(typeof status, code).toBe('number');
      expect(Number.isInteger(status) && status >= 400 && status <= 599, `${code} -> ${status}`).toBe(true);
    }
  });

  it('the REST codes of API.md carry the statuses API.md gives them', () => {
    for (const [code, status] of Object.entries(API_REST_CODES)) {
      expect(ERROR_CODES[code as keyof typeof ERROR_CODES], code).toBe(status);
    }
  });

  it('AppError takes its status from the registry and keeps code, message, field and cause', () => {
    const cause = new Error('root');
    const e = appError('invalid-request', 'limit: too big', 'limit', cause);
    expect(e).toBeInstanceOf(AppError);
    expect(e).toBeInstanceOf(Error);
    expect(e.status).toBe(400);
    expect(e.code).toBe('invalid-request');
    expect(e.message).toBe('limit: too big');
    expect(e.field).toBe('limit');
    expect(e.cause).toBe(cause);
    expect(appError('forbidden', 'no').status).toBe(403);
    expect(appError('forbidden', 'no').field).toBeUndefined();
  });
});
