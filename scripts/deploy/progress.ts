// Deploy's progress report: numbered steps, and what stopped a step (what failed, why, and the fix).

export interface Failure {
  readonly what: string;
  readonly why: string;
  readonly fix: string;
}

export const STEPS = 4;

export function step(number: number, title: string): void {
  console.log(`[${number}/${STEPS}] ${title}`);
}

/**
 * Prints what stopped the deploy and returns its exit code. The failure is part of the progress report
 * (stdout, in order with the ✓ lines); only the one-line summary goes to stderr.
 */
export function stopWith(failure: Failure, code: number): number {
  console.log(`  ✗ ${failure.what}`);
  console.log(`      why: ${failure.why}`);
  console.log(`      fix: ${failure.fix}`);
  console.error(`error: ${failure.what} (exit ${code})`);
  return code;
}
