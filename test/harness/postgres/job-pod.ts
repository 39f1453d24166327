import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { K8sObject } from '../../support/synth';
import { unprivilegedIdentity } from './engine';

/** Secret name -> key -> value: what the kubelet would read from the cluster's Secrets. */
export type SecretStore = Readonly<Record<string, Readonly<Record<string, string>>>>;

/** Where the pod's cluster addresses lead on this machine: the harness's only rewrite besides mount paths. */
export interface Network {
  readonly host: string;
  readonly port: number;
}

export interface JobResult {
  readonly exitCode: number | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly durationMs: number;
}

interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { secretKeyRef?: { name: string; key: string; optional?: boolean }; [source: string]: unknown };
}

/**
 * One pod of a Job from synthesized manifests, run on this machine: its ConfigMap and Secret volumes laid
 * out under a temporary root exactly as the kubelet projects them (items: key -> path; Secret files with
 * their mode, group-owned by the pod's fsGroup), its emptyDirs as empty world-writable directories, its
 * command and the environment values that name mounts or files in them moved under that root, its
 * environment built as the kubelet builds it (literal values, secretKeyRef from the given Secrets), and
 * PGHOST/PGPORT pointed at the local server.
 */
export class JobPod {
  public readonly job: K8sObject;
  private readonly container: { command: string[]; args?: string[]; env?: EnvVar[]; volumeMounts?: { name: string; mountPath: string }[] };
  private readonly configMaps: Map<string, K8sObject>;

  constructor(objects: readonly K8sObject[], component: string) {
    // A CronJob's run is a Job of its jobTemplate.
    const jobs = objects
      .filter((o) => ['Job', 'CronJob'].includes(o.kind) && o.metadata.labels?.['app.kubernetes.io/component'] === component)
      .map((o) => (o.kind === 'CronJob' ? { ...o, kind: 'Job', spec: o.spec.jobTemplate.spec } : o));
    if (jobs.length !== 1) throw new Error(`expected one Job or CronJob with component '${component}', found ${jobs.length}`);
    this.job = jobs[0];
    const containers = this.job.spec.template.spec.containers;
    if (containers.length !== 1) throw new Error(`Job ${this.job.metadata.name} has ${containers.length} containers; the harness runs one`);
    this.container = containers[0];
    this.configMaps = new Map(
      objects
        .filter((o) => o.kind === 'ConfigMap' && o.metadata.namespace === this.job.metadata.namespace)
        .map((o) => [o.metadata.name, o]),
    );
  }

  /** The files of the pod's ConfigMap volumes, by their path inside the container. */
  files(): Map<string, string> {
    const files = new Map<string, string>();
    const volumes = new Map<string, any>(this.job.spec.template.spec.volumes.map((v: any) => [v.name, v]));
    for (const mount of this.container.volumeMounts ?? []) {
      const volume = volumes.get(mount.name);
      if (!volume?.configMap) continue;
      const configMap = this.configMaps.get(volume.configMap.name);
      if (!configMap) throw new Error(`ConfigMap ${volume.configMap.name} is not in the manifests`);
      const data = configMap.data ?? {};
      const items: { key: string; path: string }[] = volume.configMap.items ?? Object.keys(data).map((key) => ({ key, path: key }));
      for (const item of items) {
        if (!(item.key in data)) throw new Error(`ConfigMap ${configMap.metadata.name} has no key ${item.key}`);
        files.set(path.posix.join(mount.mountPath, item.path), data[item.key]);
      }
    }
    return files;
  }

  /** The files of the pod's Secret volumes (plain or projected), by their path inside the container, with their mode. */
  secretFiles(secrets: SecretStore): Map<string, { content: string; mode: number }> {
    const files = new Map<string, { content: string; mode: number }>();
    const volumes = new Map<string, any>(this.job.spec.template.spec.volumes.map((v: any) => [v.name, v]));
    for (const mount of this.container.volumeMounts ?? []) {
      const volume = volumes.get(mount.name);
      const sources: { name: string; items?: { key: string; path: string; mode?: number }[] }[] = volume?.secret
        ? [{ name: volume.secret.secretName, items: volume.secret.items }]
        : (volume?.projected?.sources ?? []).filter((source: any) => source.secret).map((source: any) => source.secret);
      const defaultMode = volume?.secret?.defaultMode ?? volume?.projected?.defaultMode ?? 0o644;
      for (const source of sources) {
        const data = secrets[source.name];
        if (!data) throw new Error(`MountVolume.SetUp failed for volume "${mount.name}": secret "${source.name}" not found`);
        for (const item of source.items ?? Object.keys(data).map((key) => ({ key, path: key, mode: undefined }))) {
          if (!(item.key in data)) throw new Error(`MountVolume.SetUp failed for volume "${mount.name}": secret "${source.name}" has no key "${item.key}"`);
          files.set(path.posix.join(mount.mountPath, item.path), { content: data[item.key], mode: item.mode ?? defaultMode });
        }
      }
    }
    return files;
  }

  /** The container's environment as the kubelet resolves it; a missing Secret key fails as it would. */
  env(secrets: SecretStore): Record<string, string> {
    const env: Record<string, string> = {};
    for (const entry of this.container.env ?? []) {
      if (entry.value !== undefined) {
        env[entry.name] = entry.value;
      } else if (entry.valueFrom?.secretKeyRef) {
        const { name, key, optional } = entry.valueFrom.secretKeyRef;
        const value = secrets[name]?.[key];
        if (value === undefined) {
          if (optional) continue;
          throw new Error(`CreateContainerConfigError: env ${entry.name}: secret "${name}" has no key "${key}"`);
        }
        env[entry.name] = value;
      } else {
        throw new Error(`env ${entry.name}: only value and secretKeyRef are supported by the harness`);
      }
    }
    return env;
  }

  /**
   * Run the pod to completion.
   * @param edit changes to the mounted files (path inside the container -> content, or null to remove),
   *   standing in for a ConfigMap an operator changed.
   */
  async run(options: {
    network: Network;
    secrets: SecretStore;
    edit?: Readonly<Record<string, string | null>>;
    envOverrides?: Readonly<Record<string, string>>;
    /** Claim name -> a directory of this machine that stands for its volume. */
    claims?: Readonly<Record<string, string>>;
  }): Promise<JobResult> {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), `learnflow-${this.job.metadata.name}-`));
    fs.chmodSync(root, 0o755);
    const files = this.files();
    for (const [file, content] of Object.entries(options.edit ?? {})) {
      if (content === null) files.delete(file);
      else files.set(file, content);
    }
    const write = (file: string, content: string, mode: number) => {
      const target = path.join(root, file);
      fs.mkdirSync(path.dirname(target), { recursive: true, mode: 0o755 });
      fs.writeFileSync(target, content, { mode });
      fs.chmodSync(target, mode);
      return target;
    };
    // ConfigMap volumes default to mode 0644.
    for (const [file, content] of files) write(file, content, 0o644);
    const identity = unprivilegedIdentity();
    for (const [file, { content, mode }] of this.secretFiles(options.secrets)) {
      const target = write(file, content, mode);
      // Owned by root and the pod's fsGroup, as the kubelet leaves them: the script reads them as a group member.
      if (identity) fs.chownSync(target, 0, identity.gid);
    }
    const volumes = new Map<string, any>(this.job.spec.template.spec.volumes.map((v: any) => [v.name, v]));
    for (const mount of this.container.volumeMounts ?? []) {
      const claim: string | undefined = volumes.get(mount.name)?.persistentVolumeClaim?.claimName;
      if (claim !== undefined) {
        const volume = options.claims?.[claim];
        if (!volume) throw new Error(`the pod mounts claim ${claim}: pass its directory in claims`);
        fs.mkdirSync(path.dirname(path.join(root, mount.mountPath)), { recursive: true, mode: 0o755 });
        fs.symlinkSync(volume, path.join(root, mount.mountPath));
        continue;
      }
      if (!volumes.get(mount.name)?.emptyDir) continue;
      const dir = path.join(root, mount.mountPath);
      fs.mkdirSync(dir, { recursive: true });
      fs.chmodSync(dir, 0o777);
    }
    const mounts = (this.container.volumeMounts ?? []).map((m) => m.mountPath);
    const relocate = (arg: string) => (mounts.some((m) => arg === m || arg.startsWith(`${m}/`)) ? path.join(root, arg) : arg);
    const [command, ...args] = [...this.container.command, ...(this.container.args ?? [])].map(relocate);
    const podEnv = Object.fromEntries(Object.entries(this.env(options.secrets)).map(([name, value]) => [name, relocate(value)]));
    const env = {
      // What the postgres image's ENV contributes (PATH, LANG); HOME so psql has somewhere to look.
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      LANG: 'C.UTF-8',
      HOME: root,
      ...podEnv,
      PGHOST: options.network.host,
      PGPORT: String(options.network.port),
      ...options.envOverrides,
    };
    try {
      return await runAsPodUser([command, ...args], { env, cwd: root });
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  }
}

/** A command run to completion as the pods' user (the unprivileged 'postgres' user when we are root). */
export function runAsPodUser(command: readonly string[], options: { env: NodeJS.ProcessEnv; cwd: string }): Promise<JobResult> {
  const started = Date.now();
  return new Promise<JobResult>((resolve, reject) => {
    const child = spawn(command[0], command.slice(1), { ...options, stdio: ['ignore', 'pipe', 'pipe'], ...unprivilegedIdentity() });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (exitCode) => resolve({ exitCode, stdout, stderr, durationMs: Date.now() - started }));
  });
}
