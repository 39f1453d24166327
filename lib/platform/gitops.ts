/** Argo CD applies lower sync waves first and waits for each to be healthy (argo-cd docs/user-guide/sync-waves.md). */
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
