/**
 * The one V8 setting the CLI applies when it starts serving (cli.ts), and why.
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
 */
export const HEAP_GROWING_PERCENT = 300;

/** Flags for v8.setFlagsFromString, given the Node.js command line (process.execArgv). */
export function v8Tuning(execArgv: readonly string[]): string[] {
  const given = execArgv.some((a) => /^--heap[-_]growing[-_]percent(=|$)/.test(a));
  return given ? [] : [`--heap-growing-percent=${HEAP_GROWING_PERCENT}`];
}
