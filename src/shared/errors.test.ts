// The error-code registry against the contract: the STOMP ERROR `message` codes, HTTP statuses, kebab-case.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { AppError, ERROR_CODES, STOMP_ERROR_CODES, appError } from './errors.js';

// The contract itself (API.md at the repository root) is parsed, so the registry cannot drift from it.
const API = readFileSync(fileURLToPath(new URL('../../API.md', import.meta.url)), 'utf8');

/** The STOMP ERROR codes of API.md: the backquoted words of "ERROR frames carry a short `message` header — …". */
function apiStompCodes(): string[] {
  const m = /ERROR frames carry a short `message` header — ([^\n]+(?:\n[^\n]+)?)/.exec(API);
  if (!m) throw new Error('API.md no longer lists the STOMP ERROR codes where this test looks for them');
  const list = m[1]!.split(' — ')[0]!;
  return [...list.matchAll(/`([a-z-]+)`/g)].map((x) => x[1]!);
}

/** REST codes API.md names together with their HTTP status: "409 `email-taken`", "401 `invalid-credentials`", … */
function apiRestCodes(): Record<string, number> {
  const out: Record<string, number> = {};
  for (const m of API.matchAll(/\b([45]\d\d) `([a-z]+(?:-[a-z]+)*)`/g)) out[m[2]!] = Number(m[1]);
  return out;
}

const API_STOMP_ERROR_CODES = apiStompCodes();
const API_REST_CODES = apiRestCodes();

describe('error codes', () => {
  it('API.md is parsed: it names the eight STOMP codes and the REST codes with statuses', () => {
    expect(API_STOMP_ERROR_CODES).toHaveLength(8);
    expect(API_REST_CODES).toMatchObject({ 'email-taken': 409, 'invalid-credentials': 401, 'rate-limited': 429, forbidden: 403 });
  });

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
