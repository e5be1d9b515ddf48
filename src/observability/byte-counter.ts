import type { ServerResponse } from 'node:http';

/**
 * Counts the body bytes actually handed to a response (every `write` and `end` chunk), so a download the
 * client abandons halfway counts what was sent, not its Content-Length. `onDone` runs once, on 'close'
 * (which follows both a finished response and an aborted one).
 */
export function countBodyBytes(res: ServerResponse, onDone: (bytes: number) => void): void {
  let bytes = 0;
  const size = (chunk: unknown, encoding?: unknown): number => {
    if (chunk === undefined || chunk === null || typeof chunk === 'function') return 0;
    if (typeof chunk === 'string') return Buffer.byteLength(chunk, typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8');
    return (chunk as Uint8Array).byteLength ?? 0;
  };
  const write = res.write;
  const end = res.end;
  res.write = function (this: ServerResponse, chunk: unknown, ...rest: unknown[]) {
    bytes += size(chunk, rest[0]);
    return (write as (...a: unknown[]) => boolean).call(this, chunk, ...rest);
  } as ServerResponse['write'];
  res.end = function (this: ServerResponse, chunk?: unknown, ...rest: unknown[]) {
    bytes += size(chunk, rest[0]);
    return (end as (...a: unknown[]) => ServerResponse).call(this, chunk, ...rest);
  } as ServerResponse['end'];
  res.once('close', () => onDone(bytes));
}
