import { setTimeout as delay } from 'node:timers/promises';

/**
 * Polls `cond` until it holds, or fails naming `what` after `timeoutMs`. For conditions that settle
 * asynchronously (a socket closing, a metric catching up, Redis coming back). The timeout bounds a test
 * that would otherwise hang; it is generous on purpose and never a speed assertion.
 */
export async function waitFor(what: string, cond: () => boolean | Promise<boolean>, timeoutMs = 10_000, everyMs = 20): Promise<void> {
  for (const end = Date.now() + timeoutMs; !(await cond()); await delay(everyMs)) {
    if (Date.now() > end) throw new Error(`gave up waiting for ${what} (${timeoutMs} ms)`);
  }
}
