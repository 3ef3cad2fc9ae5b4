/**
 * A sparkline: one of ▁▂▃▄▅▆▇█ per value, scaled from 0 to the largest
 * value shown (all zeros print as ▁).
 *
 * @example
 * sparkline([0, 5, 10]) // '▁▅█'
 */
const BARS = '▁▂▃▄▅▆▇█';

/** The values as bars, scaled to their maximum. */
export function sparkline(values: readonly number[]): string {
  const max = Math.max(0, ...values);
  return values.map((v) => BARS[max === 0 ? 0 : Math.min(BARS.length - 1, Math.round((Math.max(0, v) / max) * (BARS.length - 1)))]).join('');
}
