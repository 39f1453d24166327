import { execFileSync } from 'node:child_process';
import * as path from 'node:path';
import { prepareEngines } from './prepare-engines';

/** vitest globalSetup: runs in the main process before any test worker starts. */
export default async function setup(): Promise<void> {
  // The CLIs' bundles (build/), from the sources under test, exactly as `npm run build` makes them: once,
  // here, because two workers rebuilding at once could each run the other's half-written bundle.
  execFileSync('npm', ['run', '-s', 'build'], { cwd: path.resolve(__dirname, '../..'), stdio: 'inherit' });
  await prepareEngines();
}
