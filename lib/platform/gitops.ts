/**
 * Argo CD applies lower sync waves first and waits for each wave to be healthy
 * (argo-cd docs/user-guide/sync-waves.md). File names in dist/ follow the same order for kubectl.
 */
export const SYNC_WAVE = {
  namespaces: -10,
  platform: -5,
  kafka: 0,
  postgres: 0,
  kafkaTopics: 10,
  postgresMigrations: 10,
  postgresSeed: 20,
  dapr: 30,
} as const;

export const SYNC_WAVE_ANNOTATION = 'argocd.argoproj.io/sync-wave';

/**
 * Annotations that turn a Job into an Argo CD Sync hook: re-created on every sync (so a Job with the
 * same content runs again), still ordered by its wave, deleted before its next run.
 */
export function jobHookAnnotations(asArgoCdHook: boolean): Record<string, string> {
  return asArgoCdHook
    ? { 'argocd.argoproj.io/hook': 'Sync', 'argocd.argoproj.io/hook-delete-policy': 'BeforeHookCreation' }
    : {};
}
