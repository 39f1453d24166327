// PostgreSQL's memory plan, one implementation for synth (which sizes the settings from the container
// limit) and the verifier (which re-derives the sum from the settings as they read in dist/). Pure on
// purpose: the verifier imports it, and it never imports constructs (PRODUCT.md).
import { mebibytes } from './quantity';

/** What an idle backend costs beside shared memory (catalog caches, its stack; PostgreSQL wiki). */
export const BACKEND_OVERHEAD_MIB = 5;

/** Sort or hash nodes a connection may run at once, each allowed work_mem (the plan's assumption). */
export const WORK_MEM_PER_CONNECTION = 3;

/** The server settings that allocate memory, in MiB (max_connections a count). */
export interface PostgresMemorySettings {
  readonly sharedBuffersMiB: number;
  /** The memory-backed /dev/shm (parallel query segments), counted against the container limit. */
  readonly sharedMemoryMiB: number;
  readonly maintenanceWorkMemMiB: number;
  readonly maxConnections: number;
  readonly workMemMiB: number;
}

/**
 * What the server may use at worst: shared_buffers, /dev/shm, one maintenance operation (CREATE INDEX,
 * a manual VACUUM) and, per connection, its own overhead and WORK_MEM_PER_CONNECTION work_mem. Autovacuum
 * workers are not counted one maintenance_work_mem each: PostgreSQL 16 sizes a worker's dead-tuple store
 * by the table (dead_items_max_items in src/backend/access/heap/vacuumlazy.c), small for LearnFlow's
 * tables. The OOM killer, not PostgreSQL, enforces a container's limit, so this must fit it.
 */
export function postgresMemoryDemandMiB(settings: PostgresMemorySettings): number {
  const perConnection = BACKEND_OVERHEAD_MIB + WORK_MEM_PER_CONNECTION * settings.workMemMiB;
  return settings.sharedBuffersMiB + settings.sharedMemoryMiB + settings.maintenanceWorkMemMiB + settings.maxConnections * perConnection;
}

/**
 * Memory sized from the container limit (PostgreSQL wiki, "Tuning Your PostgreSQL Server"):
 * shared_buffers a quarter; /dev/shm an eighth; maintenance_work_mem a sixteenth (16 MiB..2 GiB); every
 * backend's own overhead; and what is left as work_mem, so that postgresMemoryDemandMiB fits the limit.
 */
export function postgresMemoryPlan(limitMemory: string, maxConnections: number) {
  const limitMiB = mebibytes(limitMemory);
  const sharedBuffersMiB = Math.max(32, Math.floor(limitMiB / 4));
  const sharedMemoryMiB = Math.max(64, Math.floor(limitMiB / 8));
  const maintenanceWorkMemMiB = Math.min(2048, Math.max(16, Math.floor(limitMiB / 16)));
  const left = limitMiB - postgresMemoryDemandMiB({ sharedBuffersMiB, sharedMemoryMiB, maintenanceWorkMemMiB, maxConnections, workMemMiB: 0 });
  return { limitMiB, sharedBuffersMiB, sharedMemoryMiB, maintenanceWorkMemMiB, workMemMiB: Math.floor(left / (maxConnections * WORK_MEM_PER_CONNECTION)) };
}
