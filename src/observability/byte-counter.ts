import type { ServerResponse } from 'node:http';

/**
 * Counts the body bytes actually handed to a response (every `write` and `end` chunk), so a download the
 * client abandons halfway counts what was sent, not its Content-Length. `onDone` runs once, on 'close'
 * (which follows both a finished response and an aborted one).
 *
 * It sits on every chunk of a streamed segment, so the wrappers take the arguments as they come (no rest
 * parameters or spread, which allocate an array per call) and pay one branch for the common Buffer chunk.
 */
export function countBodyBytes(res: ServerResponse, onDone: (bytes: number) => void): void {
  let bytes = 0;
  const size = (chunk: unknown, encoding: unknown): number => {
    if (chunk === undefined || chunk === null || typeof chunk === 'function') return 0;
    if (typeof chunk === 'string') return Buffer.byteLength(chunk, typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8');
    return (chunk as Uint8Array).byteLength ?? 0;
  };
  type Call = (this: ServerResponse, chunk: unknown, a?: unknown, b?: unknown) => unknown;
  const write = res.write as unknown as Call;
  const end = res.end as unknown as Call;
  res.write = function (this: ServerResponse, chunk: unknown, a?: unknown, b?: unknown) {
    bytes += chunk instanceof Uint8Array ? chunk.byteLength : size(chunk, a);
    return write.call(this, chunk, a, b);
  } as ServerResponse['write'];
  res.end = function (this: ServerResponse, chunk?: unknown, a?: unknown, b?: unknown) {
    bytes += size(chunk, a);
    return end.call(this, chunk, a, b);
  } as ServerResponse['end'];
  res.once('close', () => onDone(bytes));
}
