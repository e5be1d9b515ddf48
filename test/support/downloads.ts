/**
 * A download held in flight: the client reads PAUSE_AFTER bytes, pauses (backpressure then stalls the
 * server's pipeline, so the transfer is provably under way), and reads the rest on resume(). The graceful
 * shutdown tests send SIGTERM while it is paused (issue #6, and the container image in issue #14).
 */
import http, { type IncomingMessage } from 'node:http';

/** Bytes received before SIGTERM is sent: enough that the response is well under way, far from its end. */
export const PAUSE_AFTER = 2 * 1024 * 1024;

export interface Download {
  /** Resolves once PAUSE_AFTER bytes arrived; the response is then paused. */
  paused: Promise<void>;
  resume(): void;
  /** The whole body, or the error that cut it short. */
  done: Promise<{ status: number; body: Buffer; complete: boolean; error?: string }>;
}

/** GET over a keep-alive agent (as a player would), pausing the read after PAUSE_AFTER bytes. */
export function pausedDownload(url: string, agent: http.Agent): Download {
  let onPaused!: () => void;
  let onFailedEarly!: (e: Error) => void;
  const paused = new Promise<void>((resolve, reject) => { onPaused = resolve; onFailedEarly = reject; });
  let res: IncomingMessage | undefined;
  const done = new Promise<{ status: number; body: Buffer; complete: boolean; error?: string }>((resolve) => {
    const chunks: Buffer[] = [];
    let received = 0;
    let pausedOnce = false;
    const req = http.get(url, { agent }, (r) => {
      res = r;
      r.on('data', (c: Buffer) => {
        chunks.push(c);
        received += c.length;
        if (!pausedOnce && received >= PAUSE_AFTER) {
          pausedOnce = true;
          r.pause();
          onPaused();
        }
      });
      r.on('end', () => resolve({ status: r.statusCode ?? 0, body: Buffer.concat(chunks), complete: r.complete }));
      r.on('error', (e) => resolve({ status: r.statusCode ?? 0, body: Buffer.concat(chunks), complete: false, error: e.message }));
      r.on('close', () => resolve({ status: r.statusCode ?? 0, body: Buffer.concat(chunks), complete: r.complete, error: 'closed' }));
    });
    req.on('error', (e) => {
      onFailedEarly(e);
      resolve({ status: 0, body: Buffer.alloc(0), complete: false, error: e.message });
    });
  });
  done.then(() => onFailedEarly(new Error('download ended before it was paused')));
  return { paused, resume: () => res?.resume(), done };
}
