/**
 * Plain-text tables for the terminal: left-aligned text, right-aligned
 * numbers, two spaces between columns, no colours (readable in a pipe).
 *
 * @example
 * formatTable(['replica', 'lag_ms'], [['n2', 12]]) // 'replica  lag_ms\nn2           12'
 */

/** A cell: text is left-aligned, numbers right-aligned; null prints as '-'. */
export type Cell = string | number | null;

/** The rows under `headers`, columns padded to their widest cell. */
export function formatTable(headers: readonly string[], rows: readonly (readonly Cell[])[]): string {
  const text = rows.map((row) => row.map((c) => (c === null ? '-' : String(c))));
  const widths = headers.map((h, i) => Math.max(h.length, ...text.map((r) => r[i]?.length ?? 0)));
  const line = (cells: readonly string[], numeric: (i: number) => boolean) =>
    cells.map((c, i) => (numeric(i) ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ').trimEnd();
  return [
    line(headers, (i) => typeof rows[0]?.[i] === 'number'),
    ...text.map((cells, r) => line(cells, (i) => typeof rows[r]![i] === 'number')),
  ].join('\n');
}
