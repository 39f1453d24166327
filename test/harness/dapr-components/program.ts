import { spawn } from 'node:child_process';

/** What the dapr-components program (main.go) prints: exactly one JSON object. */
export interface ProgramResult {
  readonly ok: boolean;
  readonly stage?: string;
  readonly error?: string;
  readonly [field: string]: unknown;
}

export interface ProgramRun {
  /** The resources directory (writeDaprResources). */
  readonly resources: string;
  /** The app-id the program runs as (daprd --app-id): components scoped to others are refused. */
  readonly appId: string;
  readonly namespace: string;
  /** SCENARIO COMPONENT ARGS... */
  readonly args: readonly string[];
  /** How long the scenario may take (Go duration). @default - the program's own (90s) */
  readonly timeout?: string;
}

/** Runs the dapr-components program once; rejects when it prints no JSON result or its exit code contradicts it. */
export function runDaprComponents(binary: string, run: ProgramRun): Promise<ProgramResult> {
  const flags = ['--resources-path', run.resources, '--app-id', run.appId, '--namespace', run.namespace, ...(run.timeout ? ['--timeout', run.timeout] : [])];
  return new Promise((resolve, reject) => {
    const child = spawn(binary, [...flags, ...run.args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (exitCode) => {
      let result: ProgramResult;
      try {
        result = JSON.parse(stdout) as ProgramResult;
      } catch {
        return reject(new Error(`dapr-components ${run.args.join(' ')} exited ${exitCode} without a JSON result:\n${stdout}\n${stderr}`));
      }
      if (exitCode !== (result.ok ? 0 : 1)) return reject(new Error(`exit code ${exitCode} contradicts ${stdout}\n${stderr}`));
      resolve(result);
    });
  });
}
