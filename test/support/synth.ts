import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as yaml from 'js-yaml';
import { type LoadConfigOptions, loadConfig } from '../../lib/config/load';
import { LearnflowStack } from '../../lib/learnflow-stack';

export const ROOT = path.resolve(__dirname, '../..');

export interface CliResult {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Run the synth CLI (build/main.js, bundled by the test run's globalSetup) with the given arguments. */
export function runSynthCli(args: readonly string[]): CliResult {
  const result = spawnSync(process.execPath, [path.join(ROOT, 'build/main.js'), ...args], { cwd: ROOT, encoding: 'utf8' });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

export function tempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `learnflow-${prefix}-`));
}

/** Every file of a directory, name -> content. */
export function readTree(dir: string): Record<string, string> {
  const tree: Record<string, string> = {};
  for (const name of fs.readdirSync(dir).sort()) tree[name] = fs.readFileSync(path.join(dir, name), 'utf8');
  return tree;
}

export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  spec?: any;
  data?: Record<string, string>;
  [key: string]: any;
}

/** The manifest files of a dist/ directory, sorted as kubectl applies them (.yml too, as the verifier reads it). */
export function manifestFiles(dir: string): string[] {
  return fs.readdirSync(dir).filter((name) => /\.ya?ml$/.test(name)).sort();
}

/** Every object of the manifest files of a dist/ directory, in file order; empty documents are dropped. */
export function readDistDir(dir: string): K8sObject[] {
  return manifestFiles(dir)
    .flatMap((file) => yaml.loadAll(fs.readFileSync(path.join(dir, file), 'utf8')) as K8sObject[])
    .filter(Boolean);
}

/** Synthesize in memory (no CLI) and return every object, in file order. */
export function synthObjects(options: LoadConfigOptions = {}): K8sObject[] {
  const files = new LearnflowStack(loadConfig(options)).synthesize();
  return files
    .filter((f) => f.fileName.endsWith('.yaml'))
    .flatMap((f) => yaml.loadAll(f.content) as K8sObject[])
    .filter(Boolean);
}

export function findObject(objects: readonly K8sObject[], kind: string, name: string | RegExp): K8sObject {
  const found = objects.find((o) => o.kind === kind && (typeof name === 'string' ? o.metadata.name === name : name.test(o.metadata.name)));
  if (!found) throw new Error(`no ${kind} named ${name}`);
  return found;
}

export function envOf(container: { env?: { name: string; value?: string }[] }): Record<string, string | undefined> {
  return Object.fromEntries((container.env ?? []).map((e) => [e.name, e.value]));
}
