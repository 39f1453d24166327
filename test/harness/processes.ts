import { type ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

// Process plumbing shared by the engine harnesses (Kafka brokers, the Kubernetes control plane).

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The last `lines` lines of a log file. */
export function tail(file: string, lines = 40): string {
  if (!fs.existsSync(file)) return '(no output)';
  return fs.readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n');
}

/** Signal the process group of a child started with `detached: true`. */
export function killGroup(child: ChildProcess | undefined, signal: NodeJS.Signals): void {
  if (child?.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // Already gone.
  }
}

export interface ProcessResult {
  readonly exitCode: number | null;
  readonly stdout: string;
  readonly stderr: string;
  /** stdout and stderr interleaved as they arrived. */
  readonly output: string;
  readonly durationMs: number;
}

interface RunOptions {
  readonly env?: NodeJS.ProcessEnv;
  readonly cwd?: string;
  readonly input?: string;
  /** Called with each complete line of output as it arrives. */
  readonly onLine?: (line: string) => void;
  readonly timeoutMs: number;
}

function run(command: string, args: readonly string[], options: RunOptions): Promise<ProcessResult> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const { env, cwd, input, onLine } = options;
    const child = spawn(command, args, { env, cwd, detached: true, stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let output = '';
    let pending = '';
    const collect = (chunk: Buffer) => {
      output += chunk;
      if (!onLine) return;
      const lines = (pending + chunk).split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) onLine(line);
    };
    child.stdout!.on('data', (chunk: Buffer) => {
      stdout += chunk;
      collect(chunk);
    });
    child.stderr!.on('data', (chunk: Buffer) => {
      stderr += chunk;
      collect(chunk);
    });
    if (input !== undefined) child.stdin!.end(input);
    const timer = setTimeout(() => killGroup(child, 'SIGKILL'), options.timeoutMs);
    child.on('error', reject);
    child.on('close', (exitCode) => {
      clearTimeout(timer);
      if (pending && onLine) onLine(pending);
      resolve({ exitCode, stdout, stderr, output, durationMs: Date.now() - started });
    });
  });
}

/** Run a command to completion, capturing its output, killing its process group after `timeoutMs`. */
export function runProcess(command: string, args: readonly string[], env: NodeJS.ProcessEnv, timeoutMs: number, input?: string): Promise<ProcessResult> {
  return run(command, args, { env, timeoutMs, input });
}

/** Run a command in `cwd` to completion, handing each line of its output to `onLine` as it arrives. */
export function runStreaming(command: string, args: readonly string[], cwd: string | undefined, timeoutMs: number, onLine: (line: string) => void): Promise<ProcessResult> {
  return run(command, args, { cwd, timeoutMs, onLine });
}

/**
 * Long-running engine processes must not outlive the test process, also when it dies without running
 * its exit hooks (a killed test worker): a detached watchdog waits for this process to end, then kills
 * every process group recorded with `track` and removes `dir`.
 */
export class ProcessWatchdog {
  private readonly pgids: string;
  private readonly watchdog: ChildProcess;

  constructor(
    private readonly dir: string,
    name: string,
  ) {
    this.pgids = path.join(dir, 'pgids');
    fs.writeFileSync(this.pgids, '');
    this.watchdog = spawn(
      'bash',
      [
        '-c',
        'while kill -0 "$1" 2>/dev/null; do sleep 1; done; while read -r g; do kill -KILL -- "-$g" 2>/dev/null; done < "$2"; rm -rf "$3"',
        name,
        String(process.pid),
        this.pgids,
        dir,
      ],
      { detached: true, stdio: 'ignore' },
    );
    this.watchdog.unref();
  }

  /** Start `command` in its own process group, its output appended to `logFile`, killed with this process. */
  spawn(command: string, args: readonly string[], env: NodeJS.ProcessEnv, logFile: string): ChildProcess {
    const log = fs.openSync(logFile, 'a');
    const child = spawn(command, args, { env, detached: true, stdio: ['ignore', log, log] });
    fs.closeSync(log);
    this.track(child);
    return child;
  }

  track(child: ChildProcess): void {
    fs.appendFileSync(this.pgids, `${child.pid}\n`);
  }

  /** Kill the watchdog itself (after the tracked processes were stopped) and remove the directory, unless kept. */
  dismiss(options: { keepDir?: boolean } = {}): void {
    killGroup(this.watchdog, 'SIGKILL');
    if (!options.keepDir) fs.rmSync(this.dir, { recursive: true, force: true });
  }
}
