import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { ROOT } from '../support/synth';
import { runStreaming } from './processes';

// The Go programs the engine suites run, each built by its build.sh once per machine and cached under
// ~/.cache/learnflow-infra. Test workers only locate them; test/support/prepare-engines.ts builds them
// before the workers start (a minutes-long build inside a worker blocks vitest's messaging).

export interface GoBuild {
  readonly name: string;
  readonly script: string;
}

export const DAPR_COMPONENTS: GoBuild = { name: 'dapr-components', script: path.join(ROOT, 'test/harness/dapr-components/build.sh') };
export const CONTROL_PLANE: GoBuild = { name: 'control-plane', script: path.join(ROOT, 'test/harness/control-plane/build.sh') };
export const PROMTOOL: GoBuild = { name: 'promtool', script: path.join(ROOT, 'test/harness/promtool/build.sh') };

/** The built binary (or binary directory) of `build`, or why it is not there. */
export function locateBuild(build: GoBuild): { path?: string; missing?: string } {
  const result = spawnSync('bash', [build.script, '--locate'], { encoding: 'utf8', timeout: 30_000 });
  if (result.status === 0) return { path: result.stdout.trim() };
  return { missing: `${build.name} is not built (${result.stderr.trim() || `exit ${result.status}`}); the engine preparation that npm test runs first builds it (see its output)` };
}

/** Builds `build` unless it is cached; each line of the build's output goes to `onLine`. */
export async function runBuild(build: GoBuild, onLine: (line: string) => void): Promise<string> {
  const result = await runStreaming('bash', [build.script], undefined, 3_600_000, onLine);
  if (result.exitCode !== 0) throw new Error(`${path.relative(ROOT, build.script)} failed (exit ${result.exitCode}):\n${result.stderr.split('\n').slice(-20).join('\n')}`);
  return result.stdout.trim().split('\n').pop()!;
}
