import { PerformanceObserver } from 'node:perf_hooks';
import v8 from 'node:v8';

/**
 * The V8 settings the CLI applies when it starts serving (cli.ts), and why: the heap growing factor pinned
 * (HEAP_GROWING_PERCENT), and the young generation kept from growing past SEMI_SPACE_CAP_MB (below).
 *
 * V8 lets the old generation grow to a multiple of what survived the last full collection before it runs
 * the next one, and picks that multiple between 1.1 and 4 from how fast collection is compared with how
 * fast the program allocates. Streaming a segment allocates a fresh buffer for every socket read (64 KB
 * of memory outside the V8 heap, which V8 also counts), so a proxy moving hundreds of MB/s looks like a
 * fast allocator and gets the smallest multiples: in bench/segment-after-playlists.ts (GC_LEAD_IDLE_MS=8000,
 * idle gaps as in the full bench) 26–83 full collections per 4 s of streaming, about 1.3–1.9 ms of CPU per
 * 1.5 MB segment. Pinned at V8's own largest multiple (heap growing percent 300 = a factor of 4): 0–2
 * full collections per round and about 1.2 ms. A factor of 3 (200) still ran 12–35 per round.
 *
 * The price is the one V8 already pays whenever it judges collection fast: up to four times the surviving
 * heap before the next full collection (the bench's RSS figures include it). V8 still shrinks the heap
 * when idle, and --max-old-space-size still caps it. `node --heap-growing-percent=<n>` on the command line
 * is respected (0 gives V8 back its own choice).
 *
 * Revisited for issue #16, with RSS measured beside CPU. Plain-http segments no longer allocate per read
 * (upstream/h1-client.ts reads into recycled buffers), and there the setting makes no difference any more
 * (bench/segment-first-view.ts, 4 paired rounds: 300, 150, 100 and V8's own choice all 0.9–1.0 ms of CPU
 * per segment and 126–135 MB peak RSS); nor at 1000 live viewers (bench/viewers-rss.ts, 2 runs each:
 * 111–115 MB peak for 300, 150 and V8's own alike). Streaming from an https upstream still goes through
 * undici, which does allocate per read: there 300 measured 4–6% less CPU per segment than V8's own choice (5.3–5.6
 * against 5.6–5.9 ms) for 10–13 MB more peak RSS (152–158 against 139–148 MB), 150 in between on CPU.
 * So the pin stays: it still pays where the allocation is, and costs nothing measurable elsewhere.
 * Measured again at 1000 live viewers (below, SEMI_SPACE_CAP_MB): with or without it 114-115 MB and the
 * same CPU within noise, so it stays; RSS there was the young generation's doing.
 */
export const HEAP_GROWING_PERCENT = 300;

/** Flags for v8.setFlagsFromString, given the Node.js command line (process.execArgv). */
export function v8Tuning(execArgv: readonly string[]): string[] {
  const given = execArgv.some((a) => /^--heap[-_]growing[-_]percent(=|$)/.test(a));
  return given ? [] : [`--heap-growing-percent=${HEAP_GROWING_PERCENT}`];
}

/**
 * Issue #16 §2: RSS at 1000 live viewers. What made the difference there is not the old generation but the
 * young one: V8 doubles each of its two semi-spaces whenever more than their size survived since the last
 * growth, up to 16 MB each (32 MB of the process's RSS once touched), and a server holding 1000 keep-alive
 * connections keeps growing it (bench/viewers-rss.ts, SEMI_SPACE_CAP_MB's comment has the numbers).
 *
 * `node --max-semi-space-size=<MB>` is the way to bound it, but only on the command line: V8 reads it once,
 * when the heap is set up. What it does read at every growth is --semi-space-growth-factor, so the cap is
 * kept from here on by setting that factor to 1 (no growth) while the semi-spaces are at the cap and back
 * to V8's 2 below it (V8 shrinks them again when the process idles, and they must be able to grow back),
 * checked after every collection. By the time the CLI runs, loading its modules has grown them to 8 MB
 * already, which is why the cap is 8 and not lower: a size V8 has committed is not given back on demand.
 *
 * Flags are set again, not once: starting a worker thread (the render worker, render-pool.ts) put
 * --semi-space-growth-factor back to V8's default (measured: set to 1, a Worker started, and the young
 * generation grew from 8 to 16 MB anyway). So the CLI applies them again once the render worker is up
 * (apply(), after listen(), which waits for its warm-up), and every collection at the cap sets the factor
 * again (a worker started again later, after a crash, lets at most one growth through). The heap growing
 * flag is set again with it, in case the same happens to it (not measured). A flag costs ~11 µs to set.
 */
/*
 * Measured for issue #16 §2 (bench/viewers-rss.ts, 1000 live viewers for 30 s, a fresh process per run, 2
 * runs each, subjects alternating; RSS peak, CPU per request of the whole process; shared 2-core machine at
 * load average 4.4-6.3, so CPU differences under ~10% are noise):
 *
 *   before (heap growing 300, semi-spaces growing to 16 MB)          128 MB (125, 131)   201 µs
 *   this cap (8 MB) + heap growing 300                               115 MB (114, 115)   202 µs
 *   this cap + --heap-growing-percent=0 (V8's own choice)            114 MB (113, 115)   194 µs
 *   `node --max-semi-space-size=4` (command line) + heap growing 300 105 MB (103, 107)   186 µs
 *   earlier runs of the same bench, command line: semi 2 MB 104 MB, 4 MB 109, 8 MB 114, none 128; heap growing
 *   0 without a cap: 130 MB (V8's own growing factor makes no difference to RSS here)
 *
 * and at full speed (bench/ab.ts, 4 paired rounds of 4 s, CPU per request with the cap against before):
 * cached 10-segment playlist 41.2 against 42.7 µs, 900-segment 47.8 against 46.5 µs, a repeated 1.5 MB
 * segment 362 against 370 µs; all within the noise, so the smaller young generation costs nothing
 * measurable there (segments from an https upstream, through undici, not measured with it). An operator who wants less RSS still can start Node.js with --max-semi-space-size=4
 * (the cap then steps aside: semiSpaceCap).
 */
export const SEMI_SPACE_CAP_MB = 8;
const GROWTH_FACTOR = 2; // V8's default

/** The semi-space cap to keep, in MB; undefined when the Node.js command line (or NODE_OPTIONS) sizes the young generation itself. */
export function semiSpaceCap(execArgv: readonly string[]): number | undefined {
  const given = execArgv.some((a) => /^--(max|min)[-_]semi[-_]space[-_]size(=|$)|^--max[-_]heap[-_]size(=|$)/.test(a));
  return given ? undefined : SEMI_SPACE_CAP_MB;
}

export interface V8Tuning {
  /** Sets the flags again (after a worker thread started). */
  apply(): void;
  /** No more checks; V8's growth factor back to its default. */
  stop(): void;
}

/** Sets `flags` and keeps V8's semi-spaces from growing past `capMB` (none: undefined), as above. */
export function keepV8Tuning(flags: readonly string[], capMB: number | undefined): V8Tuning {
  const cap = (capMB ?? 0) * 1024 * 1024;
  let factor = GROWTH_FACTOR;
  const check = (force: boolean): void => {
    if (force) for (const flag of flags) v8.setFlagsFromString(flag);
    if (!cap) return;
    const young = v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space');
    // Used + available is one semi-space less its page headers (~2%). Not space_size: that counts the other
    // semi-space too while it is committed, and V8 uncommits it at times, which read as half the size and
    // let the young generation grow to 16 MB in the bench.
    const semi = young ? young.space_used_size + young.space_available_size : 0;
    const want = semi >= cap * 0.9 ? 1 : GROWTH_FACTOR;
    // At the cap it is set every time (a worker thread's start undoes it); below it, on a change only.
    if (want === factor && want === GROWTH_FACTOR && !force) return;
    factor = want;
    v8.setFlagsFromString(`--semi-space-growth-factor=${want}`);
  };
  const observer = new PerformanceObserver(() => check(false));
  if (cap) observer.observe({ entryTypes: ['gc'] });
  check(true);
  return {
    apply: () => check(true),
    stop() {
      observer.disconnect();
      if (factor !== GROWTH_FACTOR) v8.setFlagsFromString(`--semi-space-growth-factor=${GROWTH_FACTOR}`);
    },
  };
}
