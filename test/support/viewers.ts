/**
 * Many live viewers of one media playlist, as players behave (RFC 8216 §6.3.4: reload the playlist about
 * once per target duration; fetch each segment that is new since the last reload). Every request counts:
 * a non-2xx status or a network error is a failure, recorded with what failed. Bounded: every viewer stops
 * at stop() or at maxMs, whichever comes first, and every request has its own timeout.
 */
import { setTimeout as delay } from 'node:timers/promises';
import { request, type Dispatcher } from 'undici';

export interface ViewerLoadOptions {
  /** The media playlist, through the front (what a player is given). */
  playlistUrl: string;
  viewers: number;
  dispatcher: Dispatcher;
  /** Reload interval; default 1000 ms. Viewers start spread over one interval. */
  reloadMs?: number;
  /** Fetch each new segment once per viewer. Default true. */
  segments?: boolean;
  /** Hard bound on the whole load. Default 120 s. */
  maxMs?: number;
  requestTimeoutMs?: number;
  /** Called with every request once it ended. */
  onEvent?: (e: ViewerEvent) => void;
}

export interface ViewerStats {
  playlistRequests: number;
  segmentRequests: number;
  /** One line per failed request: when (ms since start), what, and why. */
  failures: string[];
  /** Playlist response times, ms. */
  playlistMs: number[];
}

/** One request as a viewer saw it, for analyses by time (the fault harness). */
export interface ViewerEvent {
  /** Date.now() when the request started, and how long it took. */
  at: number;
  ms: number;
  kind: 'playlist' | 'segment';
  /** 0 for a network error. */
  status: number;
  /** X-HLS-Sidecar-Cache of the reply (MISS, HIT, COALESCED, STALE, ...), when it had one. */
  cache?: string;
  error?: string;
}

export interface ViewerLoad {
  /** Stats since the last mark (or the start), for one phase of a test. */
  mark(): ViewerStats;
  stop(): Promise<ViewerStats>;
}

const empty = (): ViewerStats => ({ playlistRequests: 0, segmentRequests: 0, failures: [], playlistMs: [] });

/** URI lines of a media playlist (RFC 8216 §4.1: lines that are neither blank nor start with #). */
const uriLines = (text: string): string[] => text.split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'));

export function startViewers(opts: ViewerLoadOptions): ViewerLoad {
  const started = Date.now();
  const reloadMs = opts.reloadMs ?? 1000;
  const timeoutMs = opts.requestTimeoutMs ?? 10_000;
  const stopAt = started + (opts.maxMs ?? 120_000);
  let stopped = false;
  const total = empty();
  let phase = empty();
  const record = (fn: (s: ViewerStats) => void) => { fn(total); fn(phase); };

  async function get(url: string, kind: 'playlist' | 'segment'): Promise<string | undefined> {
    const at = Date.now();
    const t0 = performance.now();
    const done = (status: number, error?: string, cache?: string) => {
      const ms = performance.now() - t0;
      record((s) => (kind === 'playlist' ? s.playlistRequests++ : s.segmentRequests++));
      if (kind === 'playlist') record((s) => s.playlistMs.push(ms));
      if (error !== undefined) record((s) => s.failures.push(`${at - started} ms ${kind} ${url.slice(-40)}: ${error}`));
      opts.onEvent?.({ at, ms, kind, status, cache, error });
    };
    try {
      const res = await request(url, { dispatcher: opts.dispatcher, headersTimeout: timeoutMs, bodyTimeout: timeoutMs });
      const body = kind === 'playlist' ? await res.body.text() : (await res.body.dump({ limit: Infinity }), '');
      const cache = res.headers['x-hls-sidecar-cache'];
      const ok = res.statusCode >= 200 && res.statusCode <= 299;
      // A failure says whose it is: the proxy's error text, or the front's own page.
      done(res.statusCode, ok ? undefined : `status ${res.statusCode} ${body.slice(0, 40).replace(/\s+/g, ' ')}`, typeof cache === 'string' ? cache : undefined);
      return ok ? body : undefined;
    } catch (err) {
      done(0, (err as Error).message);
      return undefined;
    }
  }

  async function viewer(): Promise<void> {
    await delay(Math.random() * reloadMs);
    const seen = new Set<string>();
    let first = true;
    while (!stopped && Date.now() < stopAt) {
      const t0 = Date.now();
      const text = await get(opts.playlistUrl, 'playlist');
      if (text !== undefined && opts.segments !== false) {
        const uris = uriLines(text).map((u) => new URL(u, opts.playlistUrl).href);
        // A player joining a live stream starts near the live edge (RFC 8216 §6.3.3), not at the oldest segment.
        const fresh = first ? uris.slice(-1) : uris.filter((u) => !seen.has(u));
        for (const u of uris) seen.add(u);
        first = false;
        for (const u of fresh) {
          if (stopped) break;
          await get(u, 'segment');
        }
      }
      await delay(Math.max(0, reloadMs - (Date.now() - t0)));
    }
  }

  const running = Promise.all(Array.from({ length: opts.viewers }, viewer));
  return {
    mark() {
      const p = phase;
      phase = empty();
      return p;
    },
    async stop() {
      stopped = true;
      await running;
      return total;
    },
  };
}

/** The p-th percentile (0-100) of a list of numbers; NaN when empty. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}
