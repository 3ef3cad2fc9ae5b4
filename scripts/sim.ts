/**
 * Runs the deterministic simulation: `npm run sim -- --seeds N` (seeds 1..N,
 * or from `--from S`), `--seed S` (one seed, full trace with `--trace`), or
 * `--minutes M` (consecutive seeds until M minutes passed); `--forced` also
 * injects forced promotions. Prints one
 * summary line, the faults injected per kind, and on the first failure the
 * seed, the checker and the trace; exits 1 on a failure.
 */
import { writeFileSync } from 'node:fs';
import { type SimulationResult, runSimulation } from '../src/testing/index.js';

function flag(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i < 0 ? undefined : process.argv[i + 1];
}

function count(name: string): number | undefined {
  const v = flag(name);
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < 0) {
    console.error(`--${name} needs a non-negative integer, got '${v}'`);
    process.exit(2);
  }
  return n;
}

const add = (into: Record<string, number>, from: Record<string, number>): void => {
  for (const [k, v] of Object.entries(from)) into[k] = (into[k] ?? 0) + v;
};

async function main(): Promise<void> {
  const single = count('seed');
  const seeds = count('seeds');
  const minutes = count('minutes');
  const from = count('from') ?? 1;
  if (single === undefined && seeds === undefined && minutes === undefined) {
    console.error('usage: npm run sim -- --seeds N [--from S] | --seed S [--trace FILE] | --minutes M [--from S]  [--forced] [--handovers]');
    process.exit(2);
  }
  const started = Date.now();
  const deadline = minutes === undefined ? Infinity : started + minutes * 60_000;
  const totals = { faults: {} as Record<string, number>, writes: {} as Record<string, number>, network: {} as Record<string, number>, disk: {} as Record<string, number> };
  let ran = 0;
  let failed: SimulationResult | undefined;
  let simulatedMs = 0;
  for (let seed = single ?? from; ; seed++) {
    if (single !== undefined && seed !== single) break;
    if (seeds !== undefined && seed >= from + seeds) break;
    if (Date.now() >= deadline) break;
    const result = await runSimulation({ seed, forcedPromotions: process.argv.includes('--forced'), handovers: process.argv.includes('--handovers') });
    ran++;
    simulatedMs += result.simulatedMs;
    add(totals.faults, result.faults);
    add(totals.writes, result.writes);
    add(totals.network, result.network);
    add(totals.disk, result.disk);
    if (single !== undefined) {
      const out = flag('trace');
      if (out !== undefined) writeFileSync(out, result.trace + '\n');
      else if (result.ok) console.log(result.trace);
    }
    if (!result.ok) {
      failed = result;
      break;
    }
    if (ran % 100 === 0) console.log(`... ${ran} seeds ok (last ${seed}), ${Math.round((Date.now() - started) / 1000)} s`);
  }
  console.log(`faults injected: ${JSON.stringify(totals.faults)}`);
  console.log(`writes: ${JSON.stringify(totals.writes)}`);
  console.log(`network: ${JSON.stringify(totals.network)}`);
  console.log(`disk: ${JSON.stringify(totals.disk)}`);
  console.log(`simulated ${Math.round(simulatedMs / 1000)} s in ${Math.round((Date.now() - started) / 1000)} s of real time`);
  if (failed !== undefined) {
    console.log(failed.report);
    console.log(`${ran - 1} passed, 1 failed`);
    process.exit(1);
  }
  console.log(`${ran} passed, 0 failed`);
}

await main();
