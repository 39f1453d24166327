import type { DistObject, K8sObject } from '../../verify/model';
import { formatDuration, GET_TIMEOUT_MS, type Kubectl } from '../kubectl';
import type { Failure } from './progress';

// Deploy's waits after each file: StatefulSets rolled out, Jobs complete (or failed, with their logs),
// all within one --timeout budget, printing progress so a person can tell waiting from hanging.

export class Deadline {
  private readonly end: number;
  constructor(readonly totalMs: number) {
    this.end = Date.now() + totalMs;
  }
  /** Whole seconds left, at least 1 so that kubectl gets a valid --timeout. */
  secondsLeft(): number {
    return Math.max(1, Math.ceil((this.end - Date.now()) / 1000));
  }
  expired(): boolean {
    return Date.now() >= this.end;
  }
}

// A quiet wait still prints a line this often, so a person can tell waiting from hanging.
const HEARTBEAT_MS = 15_000;

/** Runs `waitFor`, printing kubectl's lines and heartbeats with the elapsed time. */
async function withProgress<T>(what: string, waitFor: (print: (line: string) => void) => Promise<T>): Promise<{ value: T; elapsedMs: number }> {
  const started = Date.now();
  const print = (line: string) => console.log(`    [${formatDuration(Date.now() - started)}] ${line}`);
  const heartbeat = setInterval(() => print(`still waiting for ${what}`), HEARTBEAT_MS);
  try {
    const value = await waitFor(print);
    return { value, elapsedMs: Date.now() - started };
  } finally {
    clearInterval(heartbeat);
  }
}

async function waitForRollout(kubectl: Kubectl, object: K8sObject, deadline: Deadline): Promise<Failure | undefined> {
  const ref = `${object.kind.toLowerCase()}/${object.metadata.name}`;
  const namespace = object.metadata.namespace ?? 'default';
  const seconds = deadline.secondsLeft();
  console.log(`  waiting for ${ref} in ${namespace} to roll out (up to ${formatDuration(seconds * 1000)})`);
  const { value: result, elapsedMs } = await withProgress(ref, (print) =>
    kubectl.start(['rollout', 'status', ref, '-n', namespace, `--timeout=${seconds}s`], seconds * 1000 + 10_000, print).done,
  );
  if (result.ok) {
    console.log(`  ✓ ${ref} rolled out in ${formatDuration(elapsedMs)}`);
    return undefined;
  }
  return {
    what: `${ref} in ${namespace} did not roll out within ${formatDuration(elapsedMs)}`,
    why: result.reason,
    fix:
      `see why: \`${kubectl.display(['describe', ref, '-n', namespace])}\` and ` +
      `\`${kubectl.display(['get', 'events', '-n', namespace, '--sort-by=.lastTimestamp'])}\`; ` +
      'then `npm run deploy` again (a longer --timeout if it was only slow)',
  };
}

async function waitForJob(kubectl: Kubectl, object: K8sObject, deadline: Deadline): Promise<Failure | undefined> {
  const ref = `job/${object.metadata.name}`;
  const namespace = object.metadata.namespace ?? 'default';
  const seconds = deadline.secondsLeft();
  console.log(`  waiting for ${ref} in ${namespace} to complete (up to ${formatDuration(seconds * 1000)})`);
  const waitArgs = (condition: string) => ['wait', `--for=condition=${condition}`, ref, '-n', namespace, `--timeout=${seconds}s`];
  const bound = seconds * 1000 + 10_000;
  const { value: outcome, elapsedMs } = await withProgress(ref, async (print) => {
    const complete = kubectl.start(waitArgs('complete'), bound, print);
    // A failed Job never completes: without this second watch the deploy would sit out the whole timeout.
    const failed = kubectl.start(waitArgs('failed'), bound, () => undefined);
    const failedFirst = failed.done.then((result) => (result.ok ? ('failed' as const) : new Promise<never>(() => undefined)));
    try {
      return await Promise.race([complete.done, failedFirst]);
    } finally {
      complete.stop();
      failed.stop();
    }
  });
  if (outcome !== 'failed' && outcome.ok) {
    console.log(`  ✓ ${ref} completed in ${formatDuration(elapsedMs)}`);
    return undefined;
  }
  const deleteAndRetry = `\`${kubectl.display(['delete', ref, '-n', namespace])}\` (a finished Job of the same name is never re-run), then \`npm run deploy\` again`;
  if (outcome === 'failed') {
    const logsArgs = ['logs', ref, '-n', namespace, '--tail=30'];
    const logs = kubectl.run(logsArgs, GET_TIMEOUT_MS);
    console.log(`  ${ref} failed; the last lines of its logs (\`${kubectl.display(logsArgs)}\`):`);
    const lines = (logs.ok ? logs.stdout : `(no logs: ${logs.reason})`).trimEnd().split('\n');
    for (const line of lines) console.log(`    | ${line}`);
    return {
      what: `${ref} in ${namespace} failed after ${formatDuration(elapsedMs)}`,
      why: 'the Job reached its backoff limit (its logs are above)',
      fix: `fix the cause in the logs, then ${deleteAndRetry}`,
    };
  }
  return {
    what: `${ref} in ${namespace} did not complete within ${formatDuration(elapsedMs)}`,
    why: outcome.reason,
    fix: `see why: \`${kubectl.display(['describe', ref, '-n', namespace])}\`; if it is only slow, \`npm run deploy\` again with a longer --timeout`,
  };
}

const ROLLOUT_KINDS = new Set(['StatefulSet', 'Deployment', 'DaemonSet']);

export async function waitForFile(kubectl: Kubectl, objects: readonly DistObject[], deadline: Deadline): Promise<Failure | undefined> {
  for (const { object } of objects) {
    const waiter = ROLLOUT_KINDS.has(object.kind) ? waitForRollout : object.kind === 'Job' ? waitForJob : undefined;
    if (!waiter) continue;
    if (deadline.expired()) {
      return {
        what: `--timeout ${formatDuration(deadline.totalMs)} used up before ${object.kind.toLowerCase()}/${object.metadata.name}`,
        why: 'the earlier waits took the whole budget',
        fix: '`npm run deploy -- --timeout 20m`',
      };
    }
    const failure = await waiter(kubectl, object, deadline);
    if (failure) return failure;
  }
  return undefined;
}
