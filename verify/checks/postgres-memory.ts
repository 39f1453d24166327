import { postgresMemoryDemandMiB } from '../../lib/config/postgres-memory';
import { formatBytes, quantityValue } from '../../lib/config/quantity';
import type { StaticContext } from '../context';
import { type Check, type CheckResult, fail, formatRef, pass, refOf, skip } from '../model';
import { commandLineSettingSources, memorySettingBytes } from '../postgres-settings';
import { isPostgresServer, podTemplates } from '../workloads';

const MiB = 2 ** 20;

// PostgreSQL 16 defaults and the unit of a bare number (runtime-config-resource, runtime-config-connection).
const MEMORY_SETTINGS = {
  shared_buffers: { fallback: '128MB', bareUnit: 8192 },
  work_mem: { fallback: '4MB', bareUnit: 1024 },
  maintenance_work_mem: { fallback: '64MB', bareUnit: 1024 },
} as const;

export const postgresMemoryPlan: Check<StaticContext> = {
  id: 'postgres-memory-plan',
  description:
    "PostgreSQL's memory plan, re-derived from the server settings in dist/, fits the container memory limit: shared_buffers + /dev/shm + maintenance_work_mem + max_connections x (backend overhead + 3 x work_mem)",
  component: 'postgres',
  remediation: 'lower max_connections, work_mem or shared_buffers, or raise resources.limits.memory (npm run synth sizes them from postgres.resources and postgres.maxConnections)',
  run: ({ dist }) => {
    const results: CheckResult[] = [];
    for (const template of podTemplates(dist).filter((t) => t.longRunning)) {
      for (const [index, container] of ((template.spec.containers ?? []) as Record<string, any>[]).entries()) {
        if (!isPostgresServer(container)) continue;
        const ref = refOf(template.owner);
        const at = `${formatRef(ref)} (${template.owner.file}) containers[${index}] (${container.name})`;
        const settings = commandLineSettingSources(container);
        const problems: string[] = [];
        const bytes = (name: keyof typeof MEMORY_SETTINGS) => {
          const { fallback, bareUnit } = MEMORY_SETTINGS[name];
          const value = memorySettingBytes(settings.get(name)?.value ?? fallback, bareUnit);
          if (value === undefined) problems.push(`${settings.get(name)?.where} sets ${name} to '${settings.get(name)?.value}', not a memory setting (a number, optionally with B, kB, MB, GB or TB)`);
          return value ?? 0;
        };
        const sharedBuffers = bytes('shared_buffers');
        const workMem = bytes('work_mem');
        const maintenanceWorkMem = bytes('maintenance_work_mem');
        const maxConnections = Number(settings.get('max_connections')?.value ?? 100);
        if (!Number.isInteger(maxConnections) || maxConnections < 1) {
          problems.push(`${settings.get('max_connections')?.where} sets max_connections to '${settings.get('max_connections')?.value}', not a whole number of at least 1`);
        }
        const limit = quantityValue(container.resources?.limits?.memory);
        if (limit === undefined) problems.push(`resources.limits.memory is ${container.resources?.limits?.memory ?? 'unset'}: nothing to plan against`);
        // /dev/shm is a memory-backed emptyDir: its pages count against the container's memory limit.
        const shmMount = ((container.volumeMounts ?? []) as { name?: string; mountPath?: string }[]).find((mount) => mount?.mountPath === '/dev/shm');
        const shmVolume = ((template.spec.volumes ?? []) as Record<string, any>[]).find((volume) => volume?.name === shmMount?.name);
        const shm = quantityValue(shmVolume?.emptyDir?.sizeLimit);
        const volumeIndex = ((template.spec.volumes ?? []) as unknown[]).indexOf(shmVolume);
        if (!shmVolume?.emptyDir) {
          problems.push(`volumeMounts has no emptyDir at /dev/shm${shmVolume ? ` (spec.template.spec.volumes[${volumeIndex}] ${shmVolume.name} is not an emptyDir)` : ''}: parallel queries get the runtime's 64 MiB; the plan needs a sized one`);
        } else if (shm === undefined) {
          problems.push(`spec.template.spec.volumes[${volumeIndex}] (${shmVolume.name}).emptyDir.sizeLimit is ${shmVolume.emptyDir.sizeLimit ?? 'unset'}: emptyDir ${shmVolume.name} at /dev/shm has no sizeLimit, so it may take the whole memory limit`);
        }
        if (problems.length > 0 || limit === undefined || !shmVolume) {
          results.push(fail([ref], `${at}: ${problems.join('; ')}`));
          continue;
        }
        const memoryBacked = shmVolume.emptyDir.medium === 'Memory';
        const demand =
          postgresMemoryDemandMiB({
            sharedBuffersMiB: sharedBuffers / MiB,
            sharedMemoryMiB: memoryBacked ? (shm ?? 0) / MiB : 0,
            maintenanceWorkMemMiB: maintenanceWorkMem / MiB,
            maxConnections,
            workMemMiB: workMem / MiB,
          }) * MiB;
        const plan = `shared_buffers ${formatBytes(sharedBuffers)} + /dev/shm ${memoryBacked ? formatBytes(shm ?? 0) : '(on disk)'} + maintenance_work_mem ${formatBytes(maintenanceWorkMem)} + max_connections ${maxConnections} x (overhead + 3 x work_mem ${formatBytes(workMem)}) = ${formatBytes(demand)}`;
        results.push(
          demand > limit
            ? fail([ref], `${at}: ${plan}, above resources.limits.memory ${container.resources.limits.memory} (${formatBytes(limit)}): under load the container is OOM-killed`)
            : pass([ref], `${at}: ${plan}, within resources.limits.memory ${formatBytes(limit)}`),
        );
      }
    }
    return results.length > 0 ? results : [skip('no PostgreSQL containers in long-running workloads in dist/')];
  },
};
