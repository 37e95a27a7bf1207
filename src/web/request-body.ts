// Request bodies read with a byte limit: a client announcing or streaming more than the route
// allows gets 413 `payload_too_large` before the rest is read, so an upload cannot fill memory.
import { ApiError } from './api-route.ts';

export async function readBoundedBody(request: Request, maxBytes: number): Promise<Buffer> {
  const declared = request.headers.get('content-length');
  if (declared !== null && Number(declared) > maxBytes) throw tooLarge(maxBytes);
  if (!request.body) return Buffer.alloc(0);
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      await reader.cancel().catch(() => {});
      throw tooLarge(maxBytes);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks, total);
}

function tooLarge(maxBytes: number): ApiError {
  return new ApiError(413, 'payload_too_large', `the request body is larger than ${maxBytes} bytes`);
}

/** `application/json; charset=utf-8` → `application/json`. */
export function mediaType(header: string | null | undefined): string {
  return (header ?? '').split(';')[0].trim().toLowerCase();
}

/**
 * The path (`body.name`, `query.sender`) of the first string or key holding a NUL character, or
 * null. PostgreSQL stores no NUL in text or jsonb, so such a value would fail there as a 500;
 * nothing mxward keeps can contain one. Walked without recursion: the body may be nested deep.
 */
export function nulCharacterAt(value: unknown, where: string): string | null {
  const stack: Array<[unknown, string]> = [[value, where]];
  while (stack.length > 0) {
    const [v, path] = stack.pop()!;
    if (typeof v === 'string') {
      if (v.includes('\0')) return path;
    } else if (Array.isArray(v)) {
      v.forEach((item, i) => stack.push([item, `${path}[${i}]`]));
    } else if (v !== null && typeof v === 'object') {
      for (const [key, item] of Object.entries(v)) {
        if (key.includes('\0')) return path;
        stack.push([item, `${path}.${key}`]);
      }
    }
  }
  return null;
}
