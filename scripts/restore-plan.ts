import { BACKUP_MOUNT, recoverySettings, SERVER_FILES_MOUNT } from '../lib/postgres/backup-layout';

// The restore StatefulSet, made from the live one: the same image, settings, Secrets and volumes, a new
// name, selector and data claim, an init container that lays a verified base backup into the empty
// data directory (restore-data.sh from the server's ConfigMap), and the recovery settings. Pure, so
// the control-plane test applies exactly what `npm run restore` would, and the PostgreSQL drill runs it.

/** An RFC 3339 time with a zone: 2026-12-01T10:15:00Z, 2026-12-01T11:15:00.250+01:00. */
const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d{1,6})?([Zz]|[+-]\d{2}:\d{2})$/;

export type RestoreTarget = 'latest' | Date;

/** A target or a live StatefulSet that cannot be restored to or from: the operator's to fix, nothing is created. */
export class RestoreInputError extends Error {}

/** The target as given, or a clear error: not a time, or in the future. */
export function parseRestoreTarget(text: string, now: Date): RestoreTarget {
  if (text === 'latest') return 'latest';
  const time = new Date(text.replace(' ', 'T'));
  if (!RFC3339.test(text) || Number.isNaN(time.getTime())) {
    throw new RestoreInputError(`--to '${text}': must be 'latest' or an RFC 3339 time with its zone, e.g. 2026-12-01T10:15:00Z`);
  }
  if (time.getTime() > now.getTime()) {
    throw new RestoreInputError(`--to ${text}: is in the future (now ${now.toISOString()}); to replay everything archived, use --to latest`);
  }
  return time;
}

/**
 * How PostgreSQL and restore-data.sh read the target: UTC with a numeric offset, millisecond precision.
 * Not 'Z': the server parses recovery_target_time from its command line before it has loaded the time
 * zone abbreviations, and refuses 'Z' there ("invalid value for parameter", measured on 16.14).
 */
export function targetSetting(target: RestoreTarget): string {
  return target === 'latest' ? 'latest' : `${target.toISOString().replace('T', ' ').replace('Z', '')}+00:00`;
}

/** The restore's name suffix: the UTC time the plan was made, as digits. */
export function restoreStamp(now: Date): string {
  return now.toISOString().replace(/[-:TZ]|\.\d+/g, '');
}

export interface RestorePlanInput {
  /** The live StatefulSet as the cluster (or dist/) has it. */
  readonly live: any;
  readonly target: RestoreTarget;
  /** A base backup's name (its directory under base/); @default - the newest that ends before the target */
  readonly from?: string;
  readonly stamp: string;
}

export interface RestorePlan {
  readonly name: string;
  readonly namespace: string;
  /** The data claim the restore StatefulSet creates: data-<name>-0. */
  readonly claimName: string;
  readonly statefulSet: any;
}

const RESTORE_LABEL = 'learnflow.dev/restore';

export function restorePlan(input: RestorePlanInput): RestorePlan {
  const { live, target, stamp } = input;
  const liveName: string = live.metadata.name;
  const namespace: string = live.metadata.namespace;
  const name = `${liveName}-restore-${stamp}`;
  const template = structuredClone(live.spec.template);
  const server = template.spec.containers.find((c: any) => c.name === 'postgres');
  if (!server) throw new RestoreInputError(`statefulset/${liveName} has no container named postgres`);
  const mounts: any[] = server.volumeMounts ?? [];
  if (!mounts.some((m) => m.mountPath === BACKUP_MOUNT) || !mounts.some((m) => m.mountPath === SERVER_FILES_MOUNT)) {
    throw new RestoreInputError(`statefulset/${liveName} mounts no backup volume at ${BACKUP_MOUNT}: backups are off (postgres.backup.enabled), there is nothing to restore from`);
  }
  const pgdata = (server.env ?? []).find((e: any) => e.name === 'PGDATA')?.value;
  if (!pgdata) throw new RestoreInputError(`statefulset/${liveName}: the postgres container sets no PGDATA`);

  // Its own labels: the live Services, NetworkPolicies, budget and backup Jobs never select the restore.
  const selector = { ...live.spec.selector.matchLabels, 'app.kubernetes.io/component': 'database-restore', [RESTORE_LABEL]: stamp };
  const labels = { ...(live.metadata.labels ?? {}), ...selector };
  const setting = targetSetting(target);
  template.metadata = { ...template.metadata, labels: { ...(template.metadata?.labels ?? {}), ...selector } };
  server.args = [...(server.args ?? []), ...recoverySettings(setting).flatMap(([key, value]) => ['-c', `${key}=${value}`])];
  template.spec.initContainers = [
    {
      name: 'restore-data',
      image: server.image,
      imagePullPolicy: server.imagePullPolicy,
      command: ['/bin/bash', `${SERVER_FILES_MOUNT}/restore-data.sh`, BACKUP_MOUNT, pgdata, setting, ...(input.from ? [input.from] : [])],
      resources: server.resources,
      securityContext: server.securityContext,
      volumeMounts: mounts,
    },
  ];
  // A ReadWriteOnce backup volume can be mounted on one node only: near the live server, when it runs.
  template.spec.affinity = {
    podAffinity: {
      preferredDuringSchedulingIgnoredDuringExecution: [
        { weight: 100, podAffinityTerm: { labelSelector: { matchLabels: live.spec.selector.matchLabels }, topologyKey: 'kubernetes.io/hostname' } },
      ],
    },
  };
  const statefulSet = {
    apiVersion: 'apps/v1',
    kind: 'StatefulSet',
    metadata: {
      name,
      namespace,
      labels,
      annotations: { 'learnflow.dev/restore-of': liveName, 'learnflow.dev/restore-target': setting, ...(input.from ? { 'learnflow.dev/restore-from': input.from } : {}) },
    },
    spec: {
      serviceName: live.spec.serviceName,
      replicas: 1,
      podManagementPolicy: live.spec.podManagementPolicy,
      updateStrategy: live.spec.updateStrategy,
      persistentVolumeClaimRetentionPolicy: { whenDeleted: 'Retain', whenScaled: 'Retain' },
      selector: { matchLabels: selector },
      template,
      volumeClaimTemplates: (live.spec.volumeClaimTemplates ?? []).map((claim: any) => ({
        apiVersion: 'v1',
        kind: 'PersistentVolumeClaim',
        metadata: { name: claim.metadata.name, labels: { ...(claim.metadata.labels ?? {}), ...selector } },
        spec: claim.spec,
      })),
    },
  };
  return { name, namespace, claimName: `data-${name}-0`, statefulSet };
}

/** A verified base backup on the backup volume. */
export interface Backup {
  readonly name: string;
  /** When it became consistent: a target must be after it. */
  readonly end: Date;
}

/** The backup restore-data.sh will pick (the newest that became consistent before the target), or why there is none. */
export function chooseBackup(backups: readonly Backup[], target: RestoreTarget, from: string | undefined, now: Date): Backup {
  if (backups.length === 0) throw new RestoreInputError('there is no base backup on the backup volume: nothing to restore from (run one: kubectl create job --from=cronjob/<name>-basebackup ...)');
  // Every backup ends before 'latest', even one that finished this very second.
  const targetTime = target === 'latest' ? new Date(now.getTime() + 1000) : target;
  const oldest = backups[0];
  if (from !== undefined) {
    const named = backups.find((backup) => backup.name === from);
    if (!named) throw new RestoreInputError(`--from ${from}: no such backup (there are: ${backups.map((b) => b.name).join(', ')})`);
    if (named.end >= targetTime) throw new RestoreInputError(`--from ${from}: it became consistent at ${named.end.toISOString()}, not before the target ${targetSetting(target)}`);
    return named;
  }
  const usable = backups.filter((backup) => backup.end < targetTime);
  if (usable.length === 0) {
    throw new RestoreInputError(`--to ${targetSetting(target)}: is before the oldest backup's end (${oldest.name}, consistent at ${oldest.end.toISOString()}): nothing older is kept`);
  }
  return usable[usable.length - 1];
}

/**
 * A bash script for the server's container (its user, its PGDATA): puts the running server's timeline history
 * file into the archive with the live server's own archive_command. A restore promotes with archive_mode=off
 * (recoverySettings), so PostgreSQL never marks that file for archiving (xlog.c writeTimeLineHistory notifies
 * the archiver only when archiving is active; measured on 16.14: the new timeline's segments reach the archive
 * after the switch-over, its history file does not). Without it a later restore from an older backup does not
 * follow the new timeline, and the next promotion may pick the same timeline number again.
 */
export function archiveHistoryScript(live: any): string {
  const server = live.spec.template.spec.containers.find((c: any) => c.name === 'postgres');
  const setting = (server?.args ?? []).find((arg: string) => arg.startsWith('archive_command='));
  if (!setting) throw new RestoreInputError(`statefulset/${live.metadata.name} sets no archive_command: backups are off (postgres.backup.enabled)`);
  // archive_command runs in the data directory, with %p the file's path from there and %f its name.
  const archive = setting.slice('archive_command='.length).replace('%p', '"pg_wal/$h"').replace('%f', '"$h"');
  return `cd "$PGDATA" && h=$(printf %08X.history "$(psql -U postgres -Atc "SELECT timeline_id FROM pg_control_checkpoint()")") && ${archive} && echo "archived $h"`;
}

/**
 * The switch-over as shell lines for kubectl (`npm run restore` prints them, README "Restore" shows them,
 * test/restore-control-plane.test.ts runs them as printed): the live StatefulSet, with its own settings
 * (archiving on), restarts on the restored volume; both old volumes are kept. `restored` may be a name
 * or a shell expression (`postgres-restore-$STAMP`): it never appears inside single quotes.
 */
export function switchOverScript(live: any, restored: string, kubectl = 'kubectl'): string {
  const liveName: string = live.metadata.name;
  const namespace: string = live.metadata.namespace;
  const templates: any[] = live.spec.volumeClaimTemplates ?? [];
  if (templates.length !== 1) throw new RestoreInputError(`statefulset/${liveName} has ${templates.length} volume claim templates; the switch-over handles exactly one (the data volume)`);
  const [template] = templates;
  const liveClaim = `${template.metadata.name}-${liveName}-0`;
  const restoredClaim = `${template.metadata.name}-${restored}-0`;
  // The claim the StatefulSet controller would make for pod 0 (the template's labels and the selector's,
  // pkg/controller/statefulset/stateful_set_utils.go getPersistentVolumeClaims), bound by name to the restored volume.
  const claim = {
    apiVersion: 'v1',
    kind: 'PersistentVolumeClaim',
    metadata: { name: liveClaim, namespace, labels: { ...(template.metadata.labels ?? {}), ...live.spec.selector.matchLabels } },
    spec: { ...template.spec, volumeName: '%s' },
  };
  const k = `${kubectl} -n ${namespace}`;
  const retain = `-p '{"spec":{"persistentVolumeReclaimPolicy":"Retain"}}'`;
  const policy = `-o jsonpath='{.spec.persistentVolumeReclaimPolicy}'`;
  return [
    `# Switch-over of statefulset/${liveName} onto the data of ${restored}. Pause Argo CD or Flux auto-sync of`,
    `# ${liveName} first: a sync would scale it back up in the middle. Save the lines to a file and run it with`,
    '# bash -eu (pasted lines go on after a failed one).',
    '# 1. Keep both volumes, whatever happens to their claims below.',
    `LIVE_PV=$(${k} get pvc ${liveClaim} -o jsonpath='{.spec.volumeName}')`,
    `RESTORED_PV=$(${k} get pvc ${restoredClaim} -o jsonpath='{.spec.volumeName}')`,
    // biome-ignore lint/suspicious/noTemplateCurlyInString: ${LIVE_PV:?...} is for the shell: it stops when kubectl found no volume.
    'echo "live data: ${LIVE_PV:?is not set}, restored data: ${RESTORED_PV:?is not set}"',
    `${kubectl} patch pv "$LIVE_PV" ${retain}`,
    `${kubectl} patch pv "$RESTORED_PV" ${retain}`,
    '#    Nothing below runs unless both volumes are Retain now (step 3 deletes their claims).',
    `[ "$(${kubectl} get pv "$LIVE_PV" ${policy})/$(${kubectl} get pv "$RESTORED_PV" ${policy})" = Retain/Retain ] || { echo "stop: both volumes must be Retain first" >&2; exit 1; }`,
    '# 2. Stop both servers: the write outage begins.',
    `${k} scale statefulset ${restored} --replicas=0`,
    `${k} scale statefulset ${liveName} --replicas=0`,
    `${k} wait --for=delete pod/${liveName}-0 pod/${restored}-0 --timeout=300s`,
    '# 3. Remove the restore StatefulSet and both claims: the volumes stay, Released.',
    `${k} delete statefulset ${restored}`,
    `${k} delete pvc ${restoredClaim} ${liveClaim}`,
    `# 4. Reserve the restored volume for ${liveClaim} (a claimRef without uid: no other claim can take it),`,
    '#    then create that claim on it.',
    `${kubectl} patch pv "$RESTORED_PV" -p '{"spec":{"claimRef":{"namespace":"${namespace}","name":"${liveClaim}","uid":null,"resourceVersion":null}}}'`,
    `printf '${JSON.stringify(claim).replaceAll('%', '%%').replace('%%s', '%s')}\\n' "$RESTORED_PV" | ${k} create -f -`,
    `${k} wait --for=jsonpath='{.status.phase}'=Bound pvc/${liveClaim} --timeout=120s`,
    `# 5. Start the live server on the restored data, archiving on: the outage ends when it is Ready.`,
    `${k} scale statefulset ${liveName} --replicas=1`,
    `${k} rollout status statefulset/${liveName} --timeout=600s`,
    '# 6. The new timeline into the archive: its history file (the restore archived nothing while it ran beside),',
    '#    then a base backup of it at once.',
    `${k} exec ${liveName}-0 -c postgres -- bash -c '${archiveHistoryScript(live)}'`,
    `${k} create job --from=cronjob/${liveName}-basebackup ${liveName}-basebackup-after-${restored.replace(`${liveName}-`, '')}`,
    'echo "the old live data stays on $LIVE_PV (Released) until you delete that volume"',
  ].join('\n');
}
