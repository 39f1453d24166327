import { spawnSync } from 'node:child_process';

// Debian's build of prometheus-community/postgres_exporter: the Go module proxy answers 403 for that
// module, so this is the one real build that can run here; the image is pinned to the same release.
export const EXPORTER = 'prometheus-postgres-exporter';

/** Why the exporter cannot run here, or undefined when it can. */
export function exporterMissing(): string | undefined {
  const result = spawnSync(EXPORTER, ['--version'], { encoding: 'utf8' });
  return result.status === 0 ? undefined : `${EXPORTER} not found: apt-get install -y prometheus-postgres-exporter`;
}
