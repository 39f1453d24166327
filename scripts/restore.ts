import { Command, CommanderError } from 'commander';
import * as yaml from 'js-yaml';
import { ConfigError, loadConfig } from '../lib/config/load';
import { postgresObjectNames } from '../lib/config/object-names';
import { BACKUP_MOUNT } from '../lib/postgres/backup-layout';
import { GET_TIMEOUT_MS, Kubectl, REQUEST_TIMEOUT } from './kubectl';
import { type Backup, chooseBackup, parseRestoreTarget, RestoreInputError, restorePlan, restoreStamp, switchOverScript, targetSetting } from './restore-plan';

// Exit codes: 0 the restore StatefulSet was created (or --dry-run planned it); 1 kubectl or the cluster
// failed; 2 invalid arguments, configuration or target (not a time, in the future, before the oldest
// backup, an unknown --from): nothing was created.
const program = new Command('restore')
  .description(
    'Point-in-time restore of PostgreSQL into a new PVC and a new StatefulSet beside the live one (never over it): ' +
      'lays the newest verified base backup before the target into the new volume, replays archived WAL to the target, ' +
      'and prints the switch-over steps.',
  )
  .requiredOption('--to <time>', "'latest', or an RFC 3339 time with its zone (e.g. 2026-12-01T10:15:00Z): restore what was committed before it")
  .option('--from <backup>', 'a base backup by name (a directory under base/ on the backup volume, e.g. 20261201T020000Z)')
  .option('-p, --profile <name>', 'configuration profile: minikube or production', 'minikube')
  .option('-c, --config <file>', 'YAML file merged over the profile')
  .option('--context <name>', 'kubectl context to use (default: the current one)')
  .option('--dry-run', 'print the plan and the StatefulSet, create nothing')
  .showHelpAfterError()
  .exitOverride();

interface Options {
  readonly to: string;
  readonly from?: string;
  readonly profile: string;
  readonly config?: string;
  readonly context?: string;
  readonly dryRun?: boolean;
}

class ClusterError extends Error {}

/** The verified base backups on the backup volume, read through the live server pod (which mounts it). */
function listBackups(kubectl: Kubectl, namespace: string, pod: string): { backups?: Backup[]; reason?: string } {
  const script = `for d in ${BACKUP_MOUNT}/base/*Z; do [ -f "$d/learnflow-backup-end" ] && printf '%s %s\\n' "\${d##*/}" "$(cat "$d/learnflow-backup-end")"; done; true`;
  const result = kubectl.run(['exec', '-n', namespace, pod, '-c', 'postgres', REQUEST_TIMEOUT, '--', '/bin/sh', '-c', script], GET_TIMEOUT_MS);
  if (!result.ok) return { reason: result.reason };
  const backups = result.stdout
    .split('\n')
    .filter((line) => /^\d{8}T\d{6}Z \S+$/.test(line))
    .map((line) => {
      const [name, end] = line.split(' ');
      return { name, end: new Date(end) };
    });
  return { backups };
}

function watchSteps(namespace: string, restored: string): string {
  const k = `kubectl -n ${namespace}`;
  return [
    'The restore runs beside the live server; nothing of the live one has changed. Watch it:',
    `  ${k} logs ${restored}-0 -c restore-data            # the backup chosen and verified`,
    `  ${k} logs -f ${restored}-0 -c postgres            # "recovery stopping before ..." then "database system is ready"`,
    `  ${k} exec ${restored}-0 -c postgres -- psql -U postgres -Atc 'SELECT pg_is_in_recovery()'   # f: promoted`,
    'Check the data with psql in that pod. Then switch over (README, "Restore", explains each step; the services and',
    "Dapr's state store reconnect by themselves after a write outage of a few seconds plus the pod's start):",
    '',
  ].join('\n');
}

function main(): number {
  try {
    program.parse();
  } catch (error) {
    // --help is an "error" with exit code 0 to commander; anything else is a usage error.
    return error instanceof CommanderError && error.exitCode === 0 ? 0 : 2;
  }
  const options = program.opts<Options>();
  const now = new Date();
  try {
    const target = parseRestoreTarget(options.to, now);
    const config = loadConfig({ profile: options.profile, overrideFile: options.config });
    const namespace = config.platform.namespaces.postgres;
    const liveName = postgresObjectNames(config.postgres.name).statefulSet;
    const kubectl = new Kubectl(options.context);
    const got = kubectl.json<any>(['get', 'statefulset', liveName, '-n', namespace, REQUEST_TIMEOUT], GET_TIMEOUT_MS);
    if (!got.value) throw new ClusterError(`reading statefulset/${liveName} in ${namespace}: ${got.reason}`);
    const plan = restorePlan({ live: got.value, target, from: options.from, stamp: restoreStamp(now) });
    const switchOver = switchOverScript(got.value, plan.name, options.context ? `kubectl --context ${options.context}` : 'kubectl');

    const listed = listBackups(kubectl, namespace, `${liveName}-0`);
    let source: string;
    if (listed.backups) {
      const chosen = chooseBackup(listed.backups, target, options.from, now);
      source = `base backup ${chosen.name} (consistent at ${chosen.end.toISOString()}), then archived WAL`;
    } else {
      // The live pod is gone (its volume lost): the init container chooses and says so in its log.
      source = `the newest base backup before the target, chosen by the init container (listing them through ${liveName}-0 failed: ${listed.reason})`;
    }
    console.log(`restore plan (${options.dryRun ? 'dry run, nothing is created' : 'creating'}):`);
    console.log(`  target:      ${targetSetting(target)}${target === 'latest' ? ' (everything archived)' : ' (commits before it)'}`);
    console.log(`  from:        ${source}`);
    console.log(`  new:         statefulset/${plan.name} and its claim ${plan.claimName} in ${namespace}, beside statefulset/${liveName}`);
    if (options.dryRun) {
      console.log(`---\n${yaml.dump(plan.statefulSet, { noRefs: true, lineWidth: -1 })}`);
      return 0;
    }
    // create, never apply: an object of that name is never changed.
    const created = kubectl.run(['create', '-f', '-', REQUEST_TIMEOUT], GET_TIMEOUT_MS, JSON.stringify(plan.statefulSet));
    if (!created.ok) throw new ClusterError(`creating statefulset/${plan.name}: ${created.reason}`);
    console.log(`created statefulset/${plan.name}\n`);
    console.log(watchSteps(namespace, plan.name));
    console.log(switchOver);
    return 0;
  } catch (error) {
    if (error instanceof RestoreInputError || error instanceof ConfigError) {
      console.error(`restore: ${error.message}\nnothing was created`);
      return 2;
    }
    if (error instanceof ClusterError) {
      console.error(`restore: ${error.message}\nnothing was created`);
      return 1;
    }
    throw error;
  }
}

process.exitCode = main();
