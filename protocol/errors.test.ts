import { describe, it, expect } from 'vitest';
import { StompProtocolError, badFrame, frameTooLarge } from './errors.js';

describe('StompProtocolError', () => {
  it('carries code, reason and message and is an Error', () => {
    const err = new StompProtocolError('bad-frame', 'invalid-escape', 'undefined escape \\t');
    expect(err).toBeInstanceOf(Error);
    expect(err.name).toBe('StompProtocolError');
    expect(err.code).toBe('bad-frame');
    expect(err.reason).toBe('invalid-escape');
    expect(err.message).toBe('undefined escape \\t');
  });
  it('factories set the code', () => {
    expect(badFrame('missing-nul', 'x').code).toBe('bad-frame');
    expect(frameTooLarge('body-too-large', 'x').code).toBe('frame-too-large');
    expect(frameTooLarge('body-too-large', 'x').reason).toBe('body-too-large');
  });
});
