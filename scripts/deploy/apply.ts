import * as path from 'node:path';
import type { Dist } from '../../verify/dist';
import type { DistObject } from '../../verify/model';
import { APPLY_TIMEOUT_MS, type Kubectl, REQUEST_TIMEOUT } from '../kubectl';
import { FIELD_MANAGER, formatChange, type StatefulSetPlan } from '../live-changes';
import type { Failure } from './progress';

// Deploy's steps 2 and 3: server-side apply of dist/'s files in order, and the re-creation of a
// StatefulSet whose claims grow (what the API refuses in place, done the safe way).

/** A file of dist/ with its objects. */
export interface DistFile {
  readonly file: string;
  readonly objects: DistObject[];
}

// What must exist before the Secrets: their namespaces, and the policies that guard those namespaces
// before anything runs in them.
const FOUNDATION_KINDS = new Set(['Namespace', 'NetworkPolicy']);

/**
 * The manifest files of dist/ in apply order, split where the foundation ends: the leading files that
 * hold only namespaces and network policies (step 2, before the Secrets), then the rest (step 3).
 */
export function filesInOrder(dist: Dist): { foundation: DistFile[]; rest: DistFile[] } {
  const files = dist.fileNames
    .map((file) => ({ file, objects: dist.objects.filter((item) => item.file === file) }))
    .filter((entry) => entry.objects.length > 0);
  const end = files.findIndex((entry) => !entry.objects.every((item) => FOUNDATION_KINDS.has(item.object.kind)));
  const foundationCount = end < 0 ? files.length : end;
  return { foundation: files.slice(0, foundationCount), rest: files.slice(foundationCount) };
}

export function applyFile(kubectl: Kubectl, dist: Dist, file: string): Failure | undefined {
  const args = ['apply', '--server-side', `--field-manager=${FIELD_MANAGER}`, '-f', path.join(dist.dir, file), REQUEST_TIMEOUT];
  const result = kubectl.run(args, APPLY_TIMEOUT_MS);
  if (result.ok) {
    console.log(`  applied ${file}`);
    for (const line of result.stdout.trim().split('\n').filter(Boolean)) console.log(`    ${line}`);
    return undefined;
  }
  const conflict = /conflict/i.test(result.stderr);
  return {
    what: `applying ${file} failed`,
    why: result.reason,
    fix: conflict
      ? `another field manager owns these fields; to take them over: ` +
        `\`${kubectl.display([...args.slice(0, 2), '--force-conflicts', ...args.slice(2)])}\`, then \`npm run deploy\` again`
      : `fix the cause above, then \`npm run deploy\` again (every step is idempotent); to see it alone: \`${kubectl.display(args)}\``,
  };
}

/**
 * What the API refuses in place, done the safe way: every claim that grows is expanded, then the
 * StatefulSet is deleted with --cascade=orphan, so its pods keep running (and its claims stay); the apply
 * that follows re-creates it, and the new StatefulSet adopts the pods (same selector).
 */
export function recreateStatefulSet(kubectl: Kubectl, plan: StatefulSetPlan): Failure | undefined {
  const { name, namespace = 'default' } = plan.live.metadata;
  const again = 'fix the cause above, then `npm run deploy` again (it picks up where this one stopped)';
  console.log(`  re-creating statefulset/${name} in ${namespace} (${plan.changes.map(formatChange).join(', ')})`);
  for (const { claim, from, to } of plan.expansions) {
    const args = ['patch', 'persistentvolumeclaim', claim, '-n', namespace, '-p', JSON.stringify({ spec: { resources: { requests: { storage: to } } } }), REQUEST_TIMEOUT];
    const result = kubectl.run(args, APPLY_TIMEOUT_MS);
    if (!result.ok) return { what: `expanding persistentvolumeclaim/${claim} in ${namespace} to ${to} failed`, why: result.reason, fix: again };
    console.log(`    persistentvolumeclaim/${claim} expanded: ${from} -> ${to}`);
  }
  const orphan = kubectl.run(['delete', 'statefulset', name, '-n', namespace, '--cascade=orphan', '--timeout=60s', REQUEST_TIMEOUT], APPLY_TIMEOUT_MS);
  if (!orphan.ok) return { what: `deleting statefulset/${name} in ${namespace} with --cascade=orphan failed`, why: orphan.reason, fix: again };
  console.log(`    statefulset/${name} deleted with --cascade=orphan: its pods keep running, the apply re-creates it`);
  return undefined;
}
