import { spawnSync } from 'node:child_process';
import { projectRoot } from '../lib/platform/project-files';

export const ROOT = projectRoot();

/** One benchmark figure, with the target PRODUCT.md sets for it. */
export interface Measurement {
  readonly id: string;
  readonly value: number;
  readonly unit: 'ms' | 'x' | '%' | 'MiB' | 'msg/s';
  /** Human-readable target, e.g. '<= 500 ms'. */
  readonly target: string;
  readonly met: boolean;
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

/** Wall time of a command, median of `runs`, after one unmeasured warm-up run. Fails loudly. */
export function timeCommand(command: string, args: readonly string[], runs: number, env: NodeJS.ProcessEnv = {}): number {
  const once = () => {
    const start = process.hrtime.bigint();
    const result = spawnSync(command, args, { cwd: ROOT, encoding: 'utf8', env: { ...process.env, ...env } });
    const elapsed = Number(process.hrtime.bigint() - start) / 1e6;
    if (result.status !== 0) {
      throw new Error(`${command} ${args.join(' ')} exited ${result.status}: ${result.stderr.slice(-2000)}`);
    }
    return elapsed;
  };
  once();
  return median(Array.from({ length: runs }, once));
}

export async function timeAsync(runs: number, fn: () => Promise<unknown>): Promise<number> {
  const samples: number[] = [];
  for (let i = 0; i < runs; i++) {
    const start = process.hrtime.bigint();
    await fn();
    samples.push(Number(process.hrtime.bigint() - start) / 1e6);
  }
  return median(samples);
}

export function atMost(id: string, value: number, limitMs: number): Measurement {
  return { id, value, unit: 'ms', target: `<= ${Math.round(limitMs)} ms`, met: value <= limitMs };
}

export function atLeast(id: string, ratio: number, minimum: number): Measurement {
  return { id, value: ratio, unit: 'x', target: `>= ${minimum}x`, met: ratio >= minimum };
}

export function atMostPercent(id: string, percent: number, maximum: number): Measurement {
  return { id, value: percent, unit: '%', target: `<= ${maximum} %`, met: percent <= maximum };
}

export function atMostMiB(id: string, mebibytes: number, maximum: number): Measurement {
  return { id, value: mebibytes, unit: 'MiB', target: `<= ${maximum} MiB`, met: mebibytes <= maximum };
}

/** A figure PRODUCT.md asks to record, not to bound: the table shows it beside its baseline. */
export function recorded(id: string, value: number, unit: Measurement['unit'] = 'ms'): Measurement {
  return { id, value, unit, target: 'recorded', met: true };
}
