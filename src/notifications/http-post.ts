// One webhook POST with Node's fetch: bounded by a timeout (a receiver that hangs, or sends headers and then
// nothing, is cut), redirects not followed, the answer's body never read (its size is the receiver's business).
import { parseRetryAfter, type AttemptResult } from './policy.js';

export type Post = (url: string, request: { body: string; headers: Record<string, string> }, timeoutMs: number, signal: AbortSignal) => Promise<AttemptResult>;

export const postWebhook: Post = async (url, request, timeoutMs, signal) => {
  const timeout = AbortSignal.timeout(timeoutMs);
  try {
    const res = await fetch(url, {
      method: 'POST',
      headers: request.headers,
      body: request.body,
      redirect: 'manual',
      signal: AbortSignal.any([timeout, signal]),
    });
    await res.body?.cancel().catch(() => {});
    return { status: res.status, error: null, retryAfterMs: parseRetryAfter(res.headers.get('retry-after'), Date.now()) };
  } catch (err) {
    const error = signal.aborted ? 'aborted' : timeout.aborted ? 'timeout' : 'network';
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    const detail = error === 'timeout' ? `no answer within ${timeoutMs} ms` : (cause?.code ?? cause?.message ?? (err as Error).message);
    return { status: null, error, retryAfterMs: null, detail };
  }
};
