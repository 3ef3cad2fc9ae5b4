/**
 * CPU time (user + system, every thread) of another process, from
 * `/proc/<pid>/stat` (Linux; clock ticks of 10 ms, so measure seconds, not
 * milliseconds).
 *
 * @example
 * const before = procCpuMicros(child.pid); ...; const used = procCpuMicros(child.pid) - before
 */
import { readFileSync } from 'node:fs';

const MICROS_PER_TICK = 10_000; // USER_HZ is 100 on Linux

/** Microseconds of CPU process `pid` has used since it started. */
export function procCpuMicros(pid: number): number {
  // Fields after the command name, which is in parentheses and may hold spaces.
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) * MICROS_PER_TICK;
}
