import { z } from 'zod';
import { MAX_JOB_BACKOFF_LIMIT } from './job-limits';
import { resources } from './resources';

/** How a one-shot Job (topics, migrations, seed) runs and gives up. */
export const jobSettings = z
  .object({
    resources,
    // verify's job-bounded holds dist/ to the same bound (verify/checks/jobs.ts).
    backoffLimit: z.number().int('must be a whole number').min(0, 'must be >= 0').max(MAX_JOB_BACKOFF_LIMIT, `must be <= ${MAX_JOB_BACKOFF_LIMIT}`),
    ttlSecondsAfterFinished: z.number().int('must be a whole number').min(0, 'must be >= 0'),
    /** How long the Job's script waits for its server before failing. */
    waitTimeoutSeconds: z.number().int('must be a whole number').min(10, 'must be >= 10').max(3600, 'must be <= 3600'),
    /**
     * The Job's whole lifetime. A pod stuck before its script runs (a missing Secret, an image that
     * cannot be pulled) never counts against backoffLimit: this is what ends it.
     */
    activeDeadlineSeconds: z.number().int('must be a whole number').min(60, 'must be >= 60').max(86_400, 'must be <= 86400'),
  })
  .strict()
  .refine((job) => job.activeDeadlineSeconds > job.waitTimeoutSeconds, {
    path: ['activeDeadlineSeconds'],
    message: 'must exceed waitTimeoutSeconds',
  });

export type JobSettings = z.infer<typeof jobSettings>;
