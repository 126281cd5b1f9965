// Strict UTF-8: invalid byte sequences are an error, never silently replaced (a replaced character would be
// stored and echoed as something the client never sent).

const decoder = new TextDecoder('utf-8', { fatal: true });

/** Decodes `bytes` as UTF-8; null when they are not valid UTF-8. */
export function decodeUtf8(bytes: Uint8Array): string | null {
  try {
    return decoder.decode(bytes);
  } catch {
    return null;
  }
}
