/**
 * The most retries a one-shot Job (topics, migrations, seed) may take: the config's bound on backoffLimit
 * (lib/config/job.ts) and the verifier's (job-bounded), from one pure module the verifier may import. With
 * the Job controller's back-off (10 s doubling to 6 min, kubernetes.io/docs/concepts/workloads/controllers/
 * job/#pod-backoff-failure-policy), 20 retries span about an hour and a half.
 */
export const MAX_JOB_BACKOFF_LIMIT = 20;
