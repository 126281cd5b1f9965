// A deadline for a promise: rejects with an ETIMEDOUT-coded error (classified as transient) when it passes.

export function withTimeout<T>(p: Promise<T>, ms: number, message = `did not finish within ${ms} ms`): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(Object.assign(new Error(message), { code: 'ETIMEDOUT' })), ms);
    }),
  ]);
}
