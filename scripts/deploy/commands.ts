import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { EXIT } from '../../lib/exit-codes';
import { APPLY_TIMEOUT_MS, firstLines } from '../kubectl';
import type { Failure } from './progress';

// The project's own commands that deploy runs as steps, as they are run by hand: `npm run secrets`
// (step 2) and `npm run verify -- --live` (step 4). This file is bundled into build/scripts/deploy.js, so
// __dirname is build/scripts, beside the bundles of both.

export interface CommandOptions {
  readonly profile: string;
  readonly config?: string;
  readonly dist: string;
  readonly context?: string;
}

export function runSecrets(options: CommandOptions): Failure | undefined {
  const args = ['--profile', options.profile, ...(options.config ? ['--config', options.config] : []), ...(options.context ? ['--context', options.context] : [])];
  const result = spawnSync(process.execPath, [path.join(__dirname, 'secrets.js'), ...args], { encoding: 'utf8', timeout: APPLY_TIMEOUT_MS });
  // The secrets command prints Secret names and keys, never values, so its output is shown as is.
  for (const line of `${result.stdout ?? ''}${result.stderr ?? ''}`.trim().split('\n').filter(Boolean)) console.log(`    ${line}`);
  if (result.status === 0) return undefined;
  return {
    what: 'creating the missing Secrets failed',
    why: result.error ? result.error.message : firstLines(result.stderr ?? '') || `exit code ${result.status}`,
    fix: `fix the cause above, then \`npm run secrets -- ${args.join(' ')}\` or \`npm run deploy\` again`,
  };
}

export function runVerify(options: CommandOptions): number {
  const args = [path.join(__dirname, '..', 'verify', 'main.js'), '--live', '--dist', options.dist];
  if (options.context) args.push('--context', options.context);
  const { status } = spawnSync(process.execPath, args, { stdio: 'inherit' });
  // The verifier's verdict passes through; anything else (killed, a usage error of ours) is no verdict.
  return status === EXIT.ok || status === EXIT.findings ? status : EXIT.couldNotCheck;
}
