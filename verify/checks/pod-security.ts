import { isDeepStrictEqual } from 'node:util';
import { formatBytes, quantityValue } from '../../lib/config/quantity';
import type { StaticContext } from '../context';
import { type Check, type CheckResult, fail, formatRef, pass, refOf, skip } from '../model';
import { allContainers, type ContainerInTemplate, containersOf, podTemplates } from '../workloads';

// Pod Security Standards, restricted profile, v1.28 (kubernetes.io/docs/concepts/security/pod-security-standards).
const RESTRICTED_VOLUME_TYPES = ['configMap', 'csi', 'downwardAPI', 'emptyDir', 'ephemeral', 'persistentVolumeClaim', 'projected', 'secret'];
const RESTRICTED_ADDABLE_CAPABILITIES = ['NET_BIND_SERVICE'];
const ALLOWED_SECCOMP_TYPES = ['RuntimeDefault', 'Localhost'];

/** One result per container: pass when it has no violations, else one fail listing them all. */
function perContainer(
  context: StaticContext,
  containers: (context: StaticContext) => ContainerInTemplate[],
  violationsOf: (entry: ContainerInTemplate) => string[],
  subject: string,
): CheckResult[] {
  const entries = containers(context);
  if (entries.length === 0) return [skip('no pod templates in dist/')];
  return entries.map((entry) => {
    const ref = refOf(entry.template.owner);
    const violations = violationsOf(entry);
    return violations.length === 0
      ? pass([ref], `${formatRef(ref)} ${entry.where}: ${subject}`)
      : fail([ref], `${formatRef(ref)} ${entry.where}: ${violations.join('; ')}`);
  });
}

const allContainersOf = (context: StaticContext) => allContainers(context.dist);

function restrictedViolations({ template, container }: ContainerInTemplate): string[] {
  const pod = template.spec.securityContext ?? {};
  const own = container.securityContext ?? {};
  const violations: string[] = [];
  for (const field of ['hostNetwork', 'hostPID', 'hostIPC'] as const) {
    if (template.spec[field] === true) violations.push(`${field} is true`);
  }
  if (own.privileged === true) violations.push('privileged is true');
  if (own.allowPrivilegeEscalation !== false) violations.push('allowPrivilegeEscalation is not false');
  if ((own.runAsNonRoot ?? pod.runAsNonRoot) !== true) violations.push('runAsNonRoot is not true');
  const runAsUser = own.runAsUser ?? pod.runAsUser;
  if (runAsUser === undefined) violations.push('runAsUser is not set (a fixed non-zero uid)');
  else if (runAsUser === 0) violations.push('runAsUser is 0 (root)');
  const seccomp = own.seccompProfile?.type ?? pod.seccompProfile?.type;
  if (!ALLOWED_SECCOMP_TYPES.includes(seccomp)) violations.push(`seccompProfile.type is ${seccomp ?? 'unset'} (needs RuntimeDefault or Localhost)`);
  const capabilities = own.capabilities ?? {};
  if (!(capabilities.drop ?? []).includes('ALL')) violations.push('capabilities.drop does not contain ALL');
  const added = ((capabilities.add ?? []) as string[]).filter((capability) => !RESTRICTED_ADDABLE_CAPABILITIES.includes(capability));
  if (added.length > 0) violations.push(`capabilities.add has ${added.join(', ')}`);
  for (const port of (container.ports ?? []) as { hostPort?: number }[]) {
    if (port?.hostPort) violations.push(`hostPort ${port.hostPort}`);
  }
  return violations;
}

function volumeViolations(context: StaticContext): CheckResult[] {
  return podTemplates(context.dist).flatMap((template) => {
    const ref = refOf(template.owner);
    const forbidden = ((template.spec.volumes ?? []) as Record<string, unknown>[])
      .map((volume) => ({ name: volume?.name, types: Object.keys(volume ?? {}).filter((key) => key !== 'name') }))
      .filter((volume) => !volume.types.every((type) => RESTRICTED_VOLUME_TYPES.includes(type)));
    return forbidden.length === 0
      ? []
      : [fail([ref], `${formatRef(ref)}: volume ${forbidden.map((v) => `${v.name} (${v.types.join(', ')})`).join(', ')} is not allowed under restricted`)];
  });
}

export const podSecurityRestricted: Check<StaticContext> = {
  id: 'pod-security-restricted',
  description: 'every pod template meets the restricted Pod Security Standard',
  component: 'platform',
  remediation:
    'set runAsNonRoot: true, a non-zero runAsUser, seccompProfile RuntimeDefault, allowPrivilegeEscalation: false and capabilities.drop [ALL]; use only configMap/secret/emptyDir/PVC/projected/downwardAPI/csi/ephemeral volumes',
  run: (context) => [
    ...perContainer(context, allContainersOf, restrictedViolations, 'restricted'),
    ...volumeViolations(context),
  ],
};

export const readOnlyRootFilesystem: Check<StaticContext> = {
  id: 'read-only-root-filesystem',
  description: 'every container runs with a read-only root filesystem',
  component: 'platform',
  remediation: 'set securityContext.readOnlyRootFilesystem: true and mount an emptyDir at each path the image writes',
  run: (context) =>
    perContainer(
      context,
      allContainersOf,
      ({ container }) => (container.securityContext?.readOnlyRootFilesystem === true ? [] : ['readOnlyRootFilesystem is not true']),
      'read-only root filesystem',
    ),
};

/** What the emptyDirs on node disk may hold (memory-backed ones count against memory), and those without a sizeLimit. */
function diskEmptyDirBytes(template: ContainerInTemplate['template']): { bytes: number; unbounded: string[] } {
  const onDisk = ((template.spec.volumes ?? []) as Record<string, any>[]).filter((volume) => volume?.emptyDir && volume.emptyDir.medium !== 'Memory');
  const unbounded = onDisk.filter((volume) => quantityValue(volume.emptyDir.sizeLimit) === undefined).map((volume) => String(volume.name));
  return { bytes: onDisk.reduce((sum, volume) => sum + (quantityValue(volume.emptyDir.sizeLimit) ?? 0), 0), unbounded };
}

export const resourcesRequestsLimits: Check<StaticContext> = {
  id: 'resources-requests-limits',
  description:
    'every container sets CPU, memory and ephemeral-storage requests and limits, requests not above limits; the ephemeral-storage limits cover the emptyDirs on disk',
  component: 'platform',
  remediation:
    'set resources.requests and resources.limits for cpu, memory and ephemeral-storage on the container, a sizeLimit on every emptyDir, and ephemeral-storage at least the emptyDirs\' sizeLimits plus the container logs',
  run: (context) =>
    perContainer(
      context,
      allContainersOf,
      ({ template, container, init }) => {
        const violations: string[] = [];
        for (const resource of ['cpu', 'memory', 'ephemeral-storage']) {
          const request = container.resources?.requests?.[resource];
          const limit = container.resources?.limits?.[resource];
          if (request === undefined) violations.push(`no ${resource} request`);
          if (limit === undefined) violations.push(`no ${resource} limit`);
          if (request === undefined || limit === undefined) continue;
          const [requested, limited] = [quantityValue(request), quantityValue(limit)];
          if (requested === undefined || limited === undefined) violations.push(`${resource} ${request}/${limit} is not a quantity`);
          else if (requested > limited) violations.push(`${resource} request ${request} is above its limit ${limit}`);
        }
        // The kubelet evicts a pod whose emptyDirs, logs and writable layers exceed the sum of its containers'
        // limits, whatever each emptyDir's sizeLimit allows; init containers run before and do not add up.
        if (!init && quantityValue(container.resources?.limits?.['ephemeral-storage']) !== undefined) {
          const emptyDirs = diskEmptyDirBytes(template);
          const limits = containersOf(template)
            .filter((entry) => !entry.init)
            .reduce((sum, entry) => sum + (quantityValue(entry.container.resources?.limits?.['ephemeral-storage']) ?? 0), 0);
          if (emptyDirs.unbounded.length > 0) violations.push(`emptyDir ${emptyDirs.unbounded.join(', ')} has no sizeLimit (it may fill the node's disk)`);
          else if (limits <= emptyDirs.bytes) {
            violations.push(
              `ephemeral-storage limits (${formatBytes(limits)}) do not exceed the emptyDirs' sizeLimits (${formatBytes(emptyDirs.bytes)}): with the container logs, the pod is evicted before they fill`,
            );
          }
        }
        return violations;
      },
      'requests and limits set',
    ),
};

/** A tag other than latest, or a digest; the registry port (host:5000/...) is not a tag. */
export function isPinnedImage(image: unknown): boolean {
  if (typeof image !== 'string' || image === '') return false;
  if (/@sha256:[a-f0-9]{64}$/.test(image)) return true;
  const lastSegment = image.slice(image.lastIndexOf('/') + 1);
  const tag = lastSegment.includes(':') ? lastSegment.slice(lastSegment.indexOf(':') + 1) : undefined;
  return tag !== undefined && tag !== '' && tag !== 'latest';
}

export const imagePinned: Check<StaticContext> = {
  id: 'image-pinned',
  description: "every image is pinned to a tag other than 'latest' or to a digest",
  component: 'platform',
  remediation: 'pin the image to a release tag (e.g. apache/kafka:4.1.1) or a digest (@sha256:...)',
  run: (context) =>
    perContainer(
      context,
      allContainersOf,
      ({ container }) => (isPinnedImage(container.image) ? [] : [`image ${container.image ?? '(none)'} is not pinned`]),
      'pinned image',
    ),
};

/** What a probe checks, without its timing. */
function handlerOf(probe: Record<string, unknown>): unknown {
  const { exec, httpGet, tcpSocket, grpc } = probe;
  return { exec, httpGet, tcpSocket, grpc };
}

export const probesOnLongRunning: Check<StaticContext> = {
  id: 'probes-long-running',
  description: 'long-running containers have readiness and liveness probes whose ports exist, and liveness is not the readiness check',
  component: 'platform',
  remediation:
    'add readinessProbe and livenessProbe (tcpSocket or exec) to the container, on a port it declares; let liveness check only that the process answers (it must hold while the server recovers)',
  run: (context) =>
    perContainer(
      context,
      (ctx) => podTemplates(ctx.dist).filter((template) => template.longRunning).flatMap(containersOf).filter((entry) => !entry.init),
      ({ container }) => {
        const violations: string[] = [];
        const portNames = new Set(((container.ports ?? []) as { name?: string }[]).map((port) => port?.name).filter(Boolean));
        for (const probe of ['readinessProbe', 'livenessProbe', 'startupProbe']) {
          const spec = container[probe];
          if (!spec) {
            if (probe !== 'startupProbe') violations.push(`no ${probe}`);
            continue;
          }
          const port = spec.tcpSocket?.port ?? spec.httpGet?.port ?? spec.grpc?.port;
          if (typeof port === 'string' && !portNames.has(port)) violations.push(`${probe} uses port '${port}', which the container does not name`);
        }
        // Not ready (recovering, overloaded) is not dead: a liveness probe that is the readiness probe
        // restarts the container in every long recovery, which then starts over.
        const { readinessProbe, livenessProbe } = container;
        if (readinessProbe && livenessProbe && isDeepStrictEqual(handlerOf(readinessProbe), handlerOf(livenessProbe))) {
          violations.push('livenessProbe checks the same as readinessProbe (a container that is not ready would be restarted)');
        }
        return violations;
      },
      'readiness and liveness probes',
    ),
};
