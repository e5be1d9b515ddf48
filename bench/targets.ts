/**
 * The targets of issue #4, evaluated against the medians. Each sidecar flavour (memory cache, Redis ×2) is
 * judged on its own; a target whose inputs were not measured (subject skipped) is 'n/a', never a pass.
 */
import { ratio, viewerMedian, type BenchResults, type TargetRow } from './results-model.js';
import type { SubjectName } from './settings.js';
import { median } from './stats.js';

const SIDECARS: ReadonlyArray<{ name: SubjectName; short: string }> = [
  { name: 'sidecar-mem', short: 'mem' },
  { name: 'sidecar-redis', short: 'redis×2' },
];

function fmt(n: number, digits = 2): string {
  return Number.isFinite(n) ? n.toFixed(digits) : '—';
}

function verdict(ok: boolean | undefined): TargetRow['verdict'] {
  return ok === undefined ? 'n/a' : ok ? 'PASS' : 'MISS';
}

/** A comparison whose inputs may be missing (NaN) → n/a. */
function check(value: number, ok: (v: number) => boolean): TargetRow['verdict'] {
  return verdict(Number.isFinite(value) ? ok(value) : undefined);
}

export function evaluateTargets(r: BenchResults): TargetRow[] {
  const rows: TargetRow[] = [];
  const lm = r.loadMedian;
  const cached: Array<[string, string, number]> = [['master', 'master playlist', 5], ['small', '10-segment playlist', 5], ['media900', '900-segment playlist', 20]];

  for (const { name, short } of SIDECARS) {
    for (const [id, title, hlsdFactor] of cached) {
      const s = lm[id]?.[name]?.rps;
      const vsDirect = ratio(s, lm[id]?.direct?.rps);
      const vsHlsd = ratio(s, lm[id]?.hlsd?.rps);
      rows.push({ target: `${short}: ${title} cached ≥ 0.5× direct rps`, measured: `${fmt(vsDirect)}×`, verdict: check(vsDirect, (v) => v >= 0.5) });
      rows.push({ target: `${short}: ${title} cached ≥ ${hlsdFactor}× hlsd rps`, measured: `${fmt(vsHlsd, 1)}×`, verdict: check(vsHlsd, (v) => v >= hlsdFactor) });
    }

    const big = r.bigPlaylist[name];
    const warm = big?.length ? median(big.map((b) => b.warmMedianMs)) : NaN;
    const cold = big?.length ? median(big.map((b) => b.coldMs)) : NaN;
    const smallP99 = big?.length ? median(big.map((b) => b.small.p99)) : NaN;
    rows.push({ target: `${short}: 100k-segment playlist (cached) ≤ 50 ms`, measured: `${fmt(warm, 1)} ms (cold ${fmt(cold, 1)} ms)`, verdict: check(warm, (v) => v <= 50) });
    rows.push({ target: `${short}: small-playlist p99 < 20 ms meanwhile`, measured: `${fmt(smallP99, 1)} ms`, verdict: check(smallP99, (v) => v < 20) });

    const seg = ratio(lm.segment?.[name]?.mbps, lm.segment?.direct?.mbps);
    const ref = r.reference?.segment;
    const refRatio = ratio(ref?.['nginx-proxy']?.mbps, ref?.direct?.mbps);
    const nodeRatio = ratio(ref?.['node-pipe']?.mbps, ref?.direct?.mbps);
    const yardstick = (Number.isFinite(refRatio) ? `; nginx proxy_pass reaches ${fmt(refRatio)}×` : '') +
      (Number.isFinite(nodeRatio) ? `, a bare Node.js proxy ${fmt(nodeRatio)}×` : '');
    // Repeated requests for one segment are answered from copies: nginx's behind the shipped templates (front
    // cache), the process's own otherwise (--segment-cache-max-bytes, on by default; the 'yardstick' figures
    // stream every request). bench/ab.ts with AB_SIDECAR_ARGS="--segment-cache-max-bytes 0" measures the streaming path.
    const how = name === 'sidecar-redis' && r.meta.settings.frontCache
      ? "; copies from the templates' nginx segment cache"
      : `; copies from the proxy's own segment cache${yardstick}`;
    rows.push({ target: `${short}: 1.5 MB segment ≥ 0.8× direct MB/s`, measured: `${fmt(seg)}× (${fmt(lm.segment?.[name]?.mbps ?? NaN, 0)} MB/s${how})`, verdict: check(seg, (v) => v >= 0.8) });

    const range = r.range[name];
    rows.push({
      target: `${short}: Range → 206, only the range fetched upstream`,
      measured: range ? `${range.status}, ${range.bodyBytes} B to client, ${range.originBytes} B from origin` : '—',
      verdict: verdict(range ? range.ok : undefined),
    });

    for (const [count, bySubject] of Object.entries(r.viewers)) {
      const runs = bySubject[name];
      const fetches = viewerMedian(runs, (v) => v.originFetches);
      const allowed = viewerMedian(runs, (v) => v.allowedFetches);
      const errors = runs ? runs.reduce((a, v) => a + v.errors, 0) : NaN;
      rows.push({
        target: `${short}: ${count} viewers ≤ 1 origin fetch per half target duration`,
        measured: `${fmt(fetches, 0)} fetches (allowed ${fmt(allowed, 0)})`,
        verdict: check(fetches, (v) => v <= allowed),
      });
      rows.push({ target: `${short}: ${count} viewers, zero errors`, measured: fmt(errors, 0), verdict: check(errors, (v) => v === 0) });
      if (count === '200') {
        const hlsdFetches = viewerMedian(bySubject.hlsd, (v) => v.originFetches);
        const fewer = ratio(hlsdFetches, fetches);
        rows.push({ target: `${short}: 200 viewers, ≥ 50× fewer origin fetches than hlsd`, measured: `${fmt(fewer, 1)}× (${fmt(hlsdFetches, 0)} vs ${fmt(fetches, 0)})`, verdict: check(fewer, (v) => v >= 50) });
      }
      if (count === '1000') {
        const peak = runs?.length ? Math.max(...runs.flatMap((v) => v.rssPeakMB)) : NaN;
        rows.push({ target: `${short}: RSS ≤ 120 MB per process at 1000 viewers`, measured: `${fmt(peak, 0)} MB peak`, verdict: check(peak, (v) => v <= 120) });
      }
    }

    const leak = r.leak[name];
    rows.push({
      target: `${short}: RSS flat across the leak check`,
      measured: leak ? `after full GC: heap ${leak.beforeGc.map((m) => fmt(m.heapUsedMB, 0)).join('+')} → ${leak.afterGc.map((m) => fmt(m.heapUsedMB, 0)).join('+')} MB, ` +
        `RSS ${leak.beforeGc.map((m) => fmt(m.rssMB, 0)).join('+')} → ${leak.afterGc.map((m) => fmt(m.rssMB, 0)).join('+')} MB (peak under load ${leak.peakMB.map((x) => fmt(x, 0)).join('+')} MB)` : '—',
      verdict: verdict(leak ? leak.flat : undefined),
    });
  }
  return rows;
}

