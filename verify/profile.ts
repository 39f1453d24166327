import type { Dist } from './dist';

/** The profile dist/ was synthesized with, as its endpoints document states it (`# profile: <name>`, as deploy reads it). */
export function profileOf(dist: Dist): string | undefined {
  return /^# profile: (\S+)$/m.exec(dist.documents['infra-endpoints.txt'] ?? '')?.[1];
}
