/** Reading the proxy's Prometheus text in tests. */

/** Sum of one counter's samples in a Prometheus text, optionally only those whose labels match. */
export function counterSum(metrics: string, name: string, labels: RegExp = /.*/): number {
  let sum = 0;
  for (const line of metrics.split('\n')) {
    const m = new RegExp(`^${name}(\\{[^}]*\\})? ([0-9.e+-]+)$`).exec(line);
    if (m && labels.test(m[1] ?? '')) sum += Number(m[2]);
  }
  return sum;
}
