import * as fs from 'node:fs';
import * as path from 'node:path';
import type { K8sObject } from '../../support/synth';

/** The facts about a pod that the downward API can expose. */
export interface PodIdentity {
  readonly name: string;
  readonly namespace: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly annotations: Readonly<Record<string, string>>;
  readonly podIP: string;
}

interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { fieldRef?: { fieldPath: string }; [source: string]: unknown };
}

/**
 * Kubernetes' `$(VAR)` expansion (k8s.io/kubernetes third_party/forked/golang/expansion): `$$` is an
 * escaped `$`, `$(NAME)` becomes the value of an earlier variable, and a reference to an unknown
 * variable, or an unterminated one, stays as written.
 */
export function expandReferences(input: string, defined: ReadonlyMap<string, string>): string {
  let output = '';
  let checkpoint = 0;
  for (let cursor = 0; cursor < input.length; cursor++) {
    if (input[cursor] !== '$' || cursor + 1 >= input.length) continue;
    output += input.slice(checkpoint, cursor);
    const rest = input.slice(cursor + 1);
    let advance = 1;
    if (rest[0] === '$') {
      output += '$';
    } else if (rest[0] === '(') {
      const closer = rest.indexOf(')');
      if (closer === -1) {
        output += '$(';
      } else {
        const name = rest.slice(1, closer);
        output += defined.get(name) ?? `$(${name})`;
        advance = closer + 1;
      }
    } else {
      output += `$${rest[0]}`;
    }
    cursor += advance;
    checkpoint = cursor + 1;
  }
  return output + input.slice(checkpoint);
}

function fieldValue(fieldPath: string, pod: PodIdentity): string {
  const keyed = /^metadata\.(labels|annotations)\['([^']+)'\]$/.exec(fieldPath);
  if (keyed) {
    const value = (keyed[1] === 'labels' ? pod.labels : pod.annotations)[keyed[2]];
    // The kubelet refuses to start a container whose fieldRef names a missing label or annotation.
    if (value === undefined) throw new Error(`fieldRef ${fieldPath}: pod ${pod.name} has no such ${keyed[1].slice(0, -1)}`);
    return value;
  }
  switch (fieldPath) {
    case 'metadata.name':
      return pod.name;
    case 'metadata.namespace':
      return pod.namespace;
    case 'status.podIP':
      return pod.podIP;
    default:
      throw new Error(`fieldRef ${fieldPath} is not supported by the harness`);
  }
}

interface ServiceLike {
  metadata: { name: string };
  spec?: { clusterIP?: string; ports?: { name?: string; port: number; protocol?: string }[] };
}

/**
 * The docker-link variables the kubelet injects for the Services of the pod's namespace unless the pod
 * sets `enableServiceLinks: false` (k8s.io/kubernetes pkg/kubelet/envvars): `<NAME>_SERVICE_HOST`,
 * `<NAME>_SERVICE_PORT[_<PORT NAME>]`, `<NAME>_PORT`, `<NAME>_PORT_<port>_<PROTO>[_PROTO|_PORT|_ADDR]`.
 * With the apache/kafka image, those of a Service named kafka* turn into broker properties.
 * The `kubernetes` Service's variables are always there.
 */
export function serviceLinkEnv(namespaceServices: readonly ServiceLike[], enableServiceLinks: boolean): Map<string, string> {
  const kubernetes: ServiceLike = { metadata: { name: 'kubernetes' }, spec: { ports: [{ name: 'https', port: 443 }] } };
  const services = [kubernetes, ...(enableServiceLinks ? namespaceServices : [])];
  const env = new Map<string, string>();
  services.forEach((service, i) => {
    const ports = service.spec?.ports ?? [];
    if (service.spec?.clusterIP === 'None' || ports.length === 0) return;
    // A stand-in for the ClusterIP the API server would assign.
    const ip = `10.96.0.${i + 1}`;
    const name = service.metadata.name.toUpperCase().replace(/-/g, '_');
    env.set(`${name}_SERVICE_HOST`, ip);
    env.set(`${name}_SERVICE_PORT`, String(ports[0].port));
    ports.forEach((port, p) => {
      const protocol = (port.protocol ?? 'TCP').toLowerCase();
      const url = `${protocol}://${ip}:${port.port}`;
      const prefix = `${name}_PORT_${port.port}_${protocol.toUpperCase()}`;
      if (port.name) env.set(`${name}_SERVICE_PORT_${port.name.toUpperCase().replace(/-/g, '_')}`, String(port.port));
      if (p === 0) env.set(`${name}_PORT`, url);
      env.set(prefix, url);
      env.set(`${prefix}_PROTO`, protocol);
      env.set(`${prefix}_PORT`, String(port.port));
      env.set(`${prefix}_ADDR`, ip);
    });
  });
  return env;
}

/**
 * A container's environment as the kubelet builds it: each entry in order, `$(VAR)` expanded against the
 * earlier entries and the service-link variables; service-link variables the container does not set
 * itself are added.
 */
export function resolveContainerEnv(
  container: { env?: EnvVar[]; envFrom?: unknown[] },
  pod: PodIdentity,
  serviceEnv: ReadonlyMap<string, string> = new Map(),
): Map<string, string> {
  if (container.envFrom?.length) throw new Error('envFrom is not supported by the harness');
  const env = new Map<string, string>();
  for (const entry of container.env ?? []) {
    if (entry.valueFrom) {
      if (!entry.valueFrom.fieldRef) throw new Error(`env ${entry.name}: only fieldRef sources are supported by the harness`);
      env.set(entry.name, fieldValue(entry.valueFrom.fieldRef.fieldPath, pod));
    } else {
      env.set(entry.name, expandReferences(entry.value ?? '', new Map([...serviceEnv, ...env])));
    }
  }
  for (const [name, value] of serviceEnv) if (!env.has(name)) env.set(name, value);
  return env;
}

/** The container's command and args, `$(VAR)` references expanded against its environment (the kubelet does). */
export function containerCommand(container: { command?: string[]; args?: string[] }, env: ReadonlyMap<string, string>): string[] {
  return [...(container.command ?? []), ...(container.args ?? [])].map((token) => expandReferences(token, env));
}

/** Secrets as the API server would hold them: name -> key -> content (the test's own certificates, passwords). */
export type SecretData = Readonly<Record<string, Readonly<Record<string, string>>>>;

interface KeyToPath {
  key: string;
  path: string;
}

/** The files a `secret` or `projected` (secret sources) volume shows: path -> content; the kubelet refuses a missing Secret or key. */
function secretVolumeFiles(volume: { secret?: { secretName: string; items?: KeyToPath[] }; projected?: { sources: { secret?: { name: string; items?: KeyToPath[] } }[] } }, secrets: SecretData): [string, string][] {
  const sources = volume.secret ? [{ name: volume.secret.secretName, items: volume.secret.items }] : (volume.projected?.sources ?? []).map((source) => {
    if (!source.secret) throw new Error('only secret sources of projected volumes are supported by the harness');
    return source.secret;
  });
  return sources.flatMap(({ name, items }) => {
    const data = secrets[name];
    if (!data) throw new Error(`secret "${name}" not found (the kubelet keeps the pod in ContainerCreating)`);
    return (items ?? Object.keys(data).map((key) => ({ key, path: key }))).map(({ key, path: file }): [string, string] => {
      if (data[key] === undefined) throw new Error(`secret "${name}" has no key ${key}`);
      return [file, data[key]];
    });
  });
}

type SecretVolume = Parameters<typeof secretVolumeFiles>[0] & { secret?: { defaultMode?: number }; projected?: { defaultMode?: number } };

/**
 * Write a secret or projected volume's files into `volumeDir` as the kubelet does (pkg/volume/util/atomic_writer.go):
 * the files in a new timestamped directory, `..data` a symlink to it swapped in one rename, and each top-level name a
 * symlink through `..data`; so an update (a renewed certificate) replaces every file at once, as in a pod.
 */
export function projectSecretVolume(volumeDir: string, volume: SecretVolume, secrets: SecretData): void {
  const mode = volume.secret?.defaultMode ?? volume.projected?.defaultMode ?? 0o644;
  const version = fs.mkdtempSync(path.join(volumeDir, '..version-'));
  fs.chmodSync(version, 0o755);
  for (const [file, content] of secretVolumeFiles(volume, secrets)) {
    fs.mkdirSync(path.dirname(path.join(version, file)), { recursive: true });
    // The harness runs as the files' owner; the kubelet's owner is root with the pod's group.
    fs.writeFileSync(path.join(version, file), content, { mode: mode | 0o400 });
  }
  const previous = fs.existsSync(path.join(volumeDir, '..data')) ? fs.readlinkSync(path.join(volumeDir, '..data')) : undefined;
  fs.symlinkSync(path.basename(version), path.join(volumeDir, '..data_tmp'));
  fs.renameSync(path.join(volumeDir, '..data_tmp'), path.join(volumeDir, '..data'));
  for (const name of fs.readdirSync(version)) {
    if (!fs.existsSync(path.join(volumeDir, name))) fs.symlinkSync(`..data/${name}`, path.join(volumeDir, name));
  }
  if (previous) fs.rmSync(path.join(volumeDir, previous), { recursive: true, force: true });
}

/**
 * A container's view of the filesystem, emulated on the host: each volume mount is a directory under the
 * pod's directory, and the root filesystem is either read-only (nothing outside the mounts is writable)
 * or a private directory too.
 */
export class ContainerFilesystem {
  private readonly mounts: { readonly containerPath: string; readonly hostPath: string }[] = [];

  constructor(
    private readonly podDir: string,
    podSpec: K8sObject['spec'],
    container: { volumeMounts?: { name: string; mountPath: string; subPath?: string }[]; securityContext?: { readOnlyRootFilesystem?: boolean } },
    configMaps: readonly K8sObject[],
    volumeClaimTemplates: readonly { metadata: { name: string } }[] = [],
    private readonly readOnlyRoot = container.securityContext?.readOnlyRootFilesystem === true,
    /** A new pod's view (fresh emptyDirs), or another look at a running pod's volumes. */
    fresh = true,
    /** What secret and projected volumes read. */
    secrets: SecretData = {},
  ) {
    for (const mount of container.volumeMounts ?? []) {
      const volumeDir = path.join(podDir, 'volumes', mount.name);
      const volume = (podSpec.volumes ?? []).find((v: { name: string }) => v.name === mount.name);
      const persistent = volumeClaimTemplates.some((t) => t.metadata.name === mount.name);
      // A new pod gets new emptyDir and configMap volumes; a PVC's directory lives as long as the pod
      // directory, so a restarted broker finds its data.
      if (!persistent && fresh) fs.rmSync(volumeDir, { recursive: true, force: true });
      if (volume?.configMap) {
        const configMap = configMaps.find((c) => c.metadata.name === volume.configMap.name);
        if (!configMap) throw new Error(`volume ${mount.name}: no ConfigMap ${volume.configMap.name} in dist`);
        fs.mkdirSync(volumeDir, { recursive: true });
        if (fresh) for (const [key, content] of Object.entries(configMap.data ?? {})) fs.writeFileSync(path.join(volumeDir, key), content);
      } else if (volume?.secret || volume?.projected) {
        fs.mkdirSync(volumeDir, { recursive: true });
        if (fresh) projectSecretVolume(volumeDir, volume, secrets);
      } else if (volume?.emptyDir || persistent) {
        fs.mkdirSync(volumeDir, { recursive: true });
      } else {
        throw new Error(`volume ${mount.name}: only configMap, secret, projected (secrets), emptyDir and volumeClaimTemplate volumes are supported`);
      }
      const hostPath = mount.subPath ? path.join(volumeDir, mount.subPath) : volumeDir;
      fs.mkdirSync(hostPath, { recursive: true });
      this.mounts.push({ containerPath: mount.mountPath.replace(/\/+$/, ''), hostPath });
    }
    this.mounts.sort((a, b) => b.containerPath.length - a.containerPath.length);
  }

  /** The host path behind a container path, or undefined when it is on a read-only root filesystem. */
  writableHostPath(containerPath: string): string | undefined {
    const mount = this.mounts.find((m) => containerPath === m.containerPath || containerPath.startsWith(`${m.containerPath}/`));
    if (mount) return mount.hostPath + containerPath.slice(mount.containerPath.length);
    if (this.readOnlyRoot) return undefined;
    const hostPath = path.join(this.podDir, 'rootfs', containerPath);
    fs.mkdirSync(hostPath, { recursive: true });
    return hostPath;
  }

  /**
   * A value with container paths in it (`/var/lib/kafka/data`, or a comma-separated list of them) as the
   * host sees it; any other value is returned unchanged.
   */
  translate(value: string): string {
    // JVM options (KAFKA_OPTS): each -javaagent:<path> option's path.
    if (value.includes('-javaagent:')) {
      return value.replace(/-javaagent:(\/[^\s=]+)/g, (_, agentPath: string) => `-javaagent:${this.translate(agentPath)}`);
    }
    const items = value.split(',');
    if (!items.every((item) => item.startsWith('/'))) return value;
    const translated = items.map((item) => this.mounts.find((m) => item === m.containerPath || item.startsWith(`${m.containerPath}/`)));
    if (translated.some((mount) => mount === undefined)) return value;
    return items.map((item, i) => translated[i]!.hostPath + item.slice(translated[i]!.containerPath.length)).join(',');
  }
}
