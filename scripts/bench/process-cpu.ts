import { readFileSync, readdirSync } from 'node:fs';

/** utime + stime in seconds from a /proc stat file (Linux). */
function statCpuSeconds(statPath: string): number {
  const stat = readFileSync(statPath, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** utime + stime of a process (every thread) in seconds, from /proc (Linux). */
export function cpuSeconds(pid: number): number {
  return statCpuSeconds(`/proc/${pid}/stat`);
}

/** utime + stime of each thread of a process in seconds, by thread id (the main thread's is the pid). */
export function threadCpuSeconds(pid: number): Map<number, number> {
  const seconds = new Map<number, number>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) seconds.set(Number(tid), statCpuSeconds(`/proc/${pid}/task/${tid}/stat`));
  return seconds;
}
