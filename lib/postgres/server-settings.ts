import { mebibytes } from '../config/quantity';
import { PostgresConfig } from '../config/schema';

/** postgresql.conf settings, in the order they are passed as `-c name=value`. */
export type ServerSettings = ReadonlyArray<readonly [name: string, value: string]>;

/**
 * Memory settings sized from the container's memory limit, following the PostgreSQL wiki's
 * "Tuning Your PostgreSQL Server": shared_buffers a quarter of RAM, effective_cache_size (a planner
 * hint, no allocation) three quarters. work_mem is per sort or hash node per backend, so it is what
 * is left after shared_buffers spread over every connection running a few such nodes at once: the
 * OOM killer, not PostgreSQL, enforces a container's limit.
 */
export function serverSettings(config: PostgresConfig): ServerSettings {
  const limitMiB = mebibytes(config.resources.limits.memory);
  const sharedBuffersMiB = Math.max(32, Math.floor(limitMiB / 4));
  const workMemMiB = Math.max(1, Math.floor((limitMiB - sharedBuffersMiB) / (config.maxConnections * 3)));
  const maintenanceWorkMemMiB = Math.min(2048, Math.max(16, Math.floor(limitMiB / 16)));
  return [
    ['max_connections', String(config.maxConnections)],
    ['shared_buffers', `${sharedBuffersMiB}MB`],
    ['effective_cache_size', `${Math.floor((limitMiB * 3) / 4)}MB`],
    ['work_mem', `${workMemMiB}MB`],
    ['maintenance_work_mem', `${maintenanceWorkMemMiB}MB`],
    // On nodes with huge pages configured but no hugetlb allowance in the pod's cgroup, 'try' maps
    // them anyway and the server dies with SIGBUS on first touch; 'off' never maps them.
    ['huge_pages', 'off'],
    // Slow queries in the pod log, where a service author looks first.
    ['log_min_duration_statement', '1s'],
  ];
}

/** The size of the memory-backed /dev/shm: parallel queries exchange data through it. */
export function sharedMemorySizeMiB(config: PostgresConfig): number {
  return Math.max(64, Math.floor(mebibytes(config.resources.limits.memory) / 8));
}
