import { postgresMemoryPlan } from '../config/postgres-memory';
import { SUPERUSER_RESERVED_CONNECTIONS } from '../config/postgres-security';
import type { PostgresConfig } from '../config/schema';
import { archiveSettings } from './backup-layout';

/** postgresql.conf settings, in the order they are passed as `-c name=value`. */
export type ServerSettings = ReadonlyArray<readonly [name: string, value: string]>;

/** postgresql.conf settings from the config's memory plan (lib/config/postgres-memory.ts). */
export function serverSettings(config: PostgresConfig): ServerSettings {
  const plan = postgresMemoryPlan(config.resources.limits.memory, config.maxConnections);
  return [
    ['max_connections', String(config.maxConnections)],
    // Explicit: the connection budget (lib/config/postgres-security.ts) counts it.
    ['superuser_reserved_connections', String(SUPERUSER_RESERVED_CONNECTIONS)],
    ['shared_buffers', `${plan.sharedBuffersMiB}MB`],
    // A planner hint, no allocation.
    ['effective_cache_size', `${Math.floor((plan.limitMiB * 3) / 4)}MB`],
    ['work_mem', `${Math.max(1, plan.workMemMiB)}MB`],
    ['maintenance_work_mem', `${plan.maintenanceWorkMemMiB}MB`],
    // On nodes with huge pages configured but no hugetlb allowance in the pod's cgroup, 'try' maps
    // them anyway and the server dies with SIGBUS on first touch; 'off' never maps them.
    ['huge_pages', 'off'],
    // Slow queries in the pod log, where a service author looks first.
    ['log_min_duration_statement', '1s'],
    ...archiveSettings(config.backup),
  ];
}

/** The size of the memory-backed /dev/shm: parallel queries exchange data through it. */
export function sharedMemorySizeMiB(config: PostgresConfig): number {
  return postgresMemoryPlan(config.resources.limits.memory, config.maxConnections).sharedMemoryMiB;
}
