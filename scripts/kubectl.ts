import { type ChildProcess, spawn, spawnSync } from 'node:child_process';

// The one kubectl wrapper of the operator commands (deploy, diff, secrets).

// Bounds for single calls: --request-timeout stops kubectl's HTTP request, the process timeout
// stops a kubectl that hangs before it gets there (exec credential plugins, DNS).
export const REQUEST_TIMEOUT = '--request-timeout=10s';
export const GET_TIMEOUT_MS = 20_000;
export const APPLY_TIMEOUT_MS = 120_000;

export function formatDuration(ms: number): string {
  const seconds = Math.round(ms / 1000);
  return seconds < 60 ? `${seconds}s` : `${Math.floor(seconds / 60)}m${String(seconds % 60).padStart(2, '0')}s`;
}

export interface KubectlResult {
  readonly ok: boolean;
  readonly stdout: string;
  readonly stderr: string;
  /** Why it failed, in one line: kubectl's error, a timeout, or kubectl missing. */
  readonly reason: string;
}

export interface RunningKubectl {
  readonly done: Promise<KubectlResult>;
  stop(): void;
}

/** Every kubectl call of a command, each bounded in time, all against the same --context. */
/** The most output a kubectl call may print (bytes). */
const KUBECTL_MAX_OUTPUT = 256 * 1024 * 1024;

export class Kubectl {
  constructor(private readonly context: string | undefined) {}

  /** The command line as a person would type it, for fix hints. */
  display(args: readonly string[]): string {
    return ['kubectl', ...this.withContext(args)].join(' ');
  }

  run(args: readonly string[], timeoutMs: number, input?: string): KubectlResult {
    // A list of CRDs is megabytes of JSON (cert-manager's Issuer schemas alone ~1 MB each, twice with
    // managedFields): far above spawnSync's 1 MiB default, which would fail the read with ENOBUFS.
    const result = spawnSync('kubectl', this.withContext(args), { encoding: 'utf8', timeout: timeoutMs, input, maxBuffer: KUBECTL_MAX_OUTPUT });
    const failure = result.error
      ? describeSpawnError(result.error, timeoutMs)
      : result.status !== 0
        ? firstLines(result.stderr) || `exit code ${result.status}`
        : undefined;
    return { ok: failure === undefined, stdout: result.stdout ?? '', stderr: result.stderr ?? '', reason: failure ?? '' };
  }

  json<T>(args: readonly string[], timeoutMs: number, input?: string): { value?: T; reason: string } {
    const result = this.run([...args, '-o', 'json'], timeoutMs, input);
    if (!result.ok) return { reason: result.reason };
    if (result.stdout.trim() === '') return { reason: '' };
    try {
      return { value: JSON.parse(result.stdout) as T, reason: '' };
    } catch {
      return { reason: `kubectl ${args.join(' ')} printed no JSON` };
    }
  }

  /** A long-running kubectl (rollout status, wait) whose output arrives line by line. */
  start(args: readonly string[], timeoutMs: number, onLine: (line: string) => void): RunningKubectl {
    const child: ChildProcess = spawn('kubectl', this.withContext(args), { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let pending = '';
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
      pending += chunk;
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) if (line.trim()) onLine(line.trim());
    });
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    // kubectl's own --timeout should end it first; this is the backstop for a kubectl that hangs.
    const killer = setTimeout(() => child.kill(), timeoutMs);
    const done = new Promise<KubectlResult>((resolve) => {
      child.on('error', (error) => resolve({ ok: false, stdout, stderr, reason: describeSpawnError(error, timeoutMs) }));
      child.on('close', (code, signal) => {
        clearTimeout(killer);
        const reason = code === 0 ? '' : firstLines(stderr) || (signal ? `stopped (${signal})` : `exit code ${code}`);
        resolve({ ok: code === 0, stdout, stderr, reason });
      });
    });
    return { done, stop: () => child.exitCode === null && child.kill() };
  }

  private withContext(args: readonly string[]): string[] {
    return [...(this.context ? ['--context', this.context] : []), ...args];
  }
}

export const KUBECTL_MISSING = 'kubectl is not installed or not on PATH';

function describeSpawnError(error: Error, timeoutMs: number): string {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return KUBECTL_MISSING;
  if (code === 'ETIMEDOUT') return `no answer within ${formatDuration(timeoutMs)}`;
  return error.message;
}

// client-go's log lines (`E1201 08:08:41.775744   16025 memcache.go:265] ...`) repeat the error kubectl prints after them.
const KLOG_LINE = /^[IWEF]\d{4} \d\d:\d\d:\d\d\.\d+\s+\d+ [\w.-]+:\d+\]/;

export function firstLines(text: string, count = 3): string {
  const lines = text.trim().split('\n');
  const messages = lines.filter((line) => !KLOG_LINE.test(line));
  return (messages.length > 0 ? messages : lines).slice(0, count).join(' / ');
}

