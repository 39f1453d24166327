import { z } from 'zod';
import { dnsLabel } from './names';

export const daprConfig = z
  .object({
    /** Dapr app-ids the components are scoped to. */
    appIds: z.array(dnsLabel).min(1, 'must list at least one app-id'),
  })
  .strict();

export type DaprConfigInput = z.input<typeof daprConfig>;

export const daprDefaults: DaprConfigInput = {
  appIds: ['triage-agent', 'concepts-agent', 'code-review-agent', 'debug-agent', 'exercise-agent', 'progress-agent', 'frontend'],
};

export const daprProfiles = {
  minikube: {},
  production: {},
} satisfies Record<string, Partial<DaprConfigInput>>;
