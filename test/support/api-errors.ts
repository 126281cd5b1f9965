// Assertions on the REST API's error answers, as API.md defines them: the body is exactly
// `{ "error": { "code": "<kebab-case>", "message": "<for people>", "field"?: "<input that was wrong>" } }`.
import { expect } from 'vitest';
import type { Answer } from './api.js';

export interface ApiError {
  code: string;
  message: string;
  field?: string;
}

/** The answer has `status` and the error body of API.md with `code`; returns the error. */
export function expectApiError(r: Answer, status: number, code: string): ApiError {
  expect(r.status, JSON.stringify(r.body)).toBe(status);
  expect(Object.keys(r.body ?? {})).toEqual(['error']);
  const e = r.body.error;
  expect(e.code).toBe(code);
  expect(e.code).toMatch(/^[a-z]+(-[a-z]+)*$/);
  expect(typeof e.message).toBe('string');
  expect(e.message.length).toBeGreaterThan(0);
  return e;
}

/** A 400 invalid-request that names `field` (in `field` or in the message). */
export function expectBadField(r: Answer, field: string): void {
  const e = expectApiError(r, 400, 'invalid-request');
  const named = e.field === field || new RegExp(`(^|[^A-Za-z])${field}([^A-Za-z]|$)`).test(e.message);
  expect(named, `error names ${field}: ${JSON.stringify(e)}`).toBe(true);
}
