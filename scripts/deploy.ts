import { Command, InvalidArgumentError, Option } from 'commander';
import { EXIT, exitCodeHelp, parseArguments } from '../lib/exit-codes';
import { applyFile, filesInOrder, recreateStatefulSet } from './deploy/apply';
import { runSecrets, runVerify } from './deploy/commands';
import { runPreflight } from './deploy/preflight';
import { step, stopWith } from './deploy/progress';
import { Deadline, waitForFile } from './deploy/wait';
import { formatDuration, Kubectl } from './kubectl';

// `npm run deploy`: the steps in order. Each concern has its file under scripts/deploy/: preflight
// (checks in the verifier's model), apply, wait, the project's own commands, and the progress report.

const HELP_AFTER = `
Steps:
  1. preflight: cluster reachable, Kubernetes >= 1.28, a default StorageClass, the Dapr CRDs and control
     plane in dapr-system, PostgreSQL's certificate source when TLS is on (cert-manager's CRDs and the issuer,
     or your certificate Secret), allocatable CPU and memory >= what dist/ requests, and no change of a live
     StatefulSet that cannot be carried out safely (all checks, one list)
  2. namespaces and network policies (server-side apply), then \`npm run secrets\` (missing Secrets only)
  3. the other dist/ files in name order; after each, wait for its StatefulSets to roll out and its Jobs
     to complete (a failed Job stops the deploy and shows its logs). Before the file of a live StatefulSet
     whose claim templates grow (the API refuses that in place): its claims are expanded, then it is
     deleted with --cascade=orphan (its pods keep running) and re-created by the apply. With cert-manager
     Certificates in dist/, \`npm run secrets\` runs again at the end (the issued CA, copied for the services)
  4. \`npm run verify -- --live\`

${exitCodeHelp('deploy')}`;

interface DeployOptions {
  readonly profile: string;
  readonly config?: string;
  readonly dist: string;
  readonly context?: string;
  readonly timeout: number;
  readonly skipVerify?: boolean;
  readonly dryRun?: boolean;
}

/** A Go-style duration as kubectl takes it (90s, 10m, 1h30m) or plain seconds, in milliseconds. */
function duration(value: string): number {
  if (!/^(?:\d+|(?:\d+[hms])+)$/.test(value)) throw new InvalidArgumentError('must be a duration such as 90s, 10m or 1h30m');
  if (/^\d+$/.test(value)) return Number(value) * 1000;
  const unit = { h: 3_600_000, m: 60_000, s: 1000 } as const;
  let total = 0;
  for (const [, amount, suffix] of value.matchAll(/(\d+)([hms])/g)) total += Number(amount) * unit[suffix as keyof typeof unit];
  if (total === 0) throw new InvalidArgumentError('must be longer than 0s');
  return total;
}

const program = new Command('deploy')
  .description('Take a cluster from nothing to a verified LearnFlow infrastructure: preflight, Secrets, apply dist/ in order, wait, verify.')
  .option('-p, --profile <name>', 'configuration profile the Secrets are created for (minikube or production); must match dist/', 'minikube')
  .option('-c, --config <file>', 'YAML file merged over the profile (as for synth and secrets)')
  .option('-d, --dist <dir>', 'directory of synthesized manifests', 'dist')
  .option('--context <name>', 'kubectl context to deploy to (default: the current one)')
  .addOption(new Option('--timeout <duration>', 'overall bound on the waits for rollouts and Jobs (e.g. 90s, 10m, 1h)').argParser(duration).default(600_000, '10m'))
  .option('--skip-verify', 'do not run `npm run verify -- --live` at the end')
  .option('--dry-run', 'run the preflight checks only; apply nothing')
  .addHelpText('after', HELP_AFTER)
  .showHelpAfterError();

async function main(): Promise<number> {
  const parsed = parseArguments(program);
  if (parsed !== undefined) return parsed;
  const options = program.opts<DeployOptions>();
  const kubectl = new Kubectl(options.context);
  const target = options.context ? `context ${options.context}` : 'the current kubectl context';
  const mode = options.dryRun ? ' (dry run)' : '';
  console.log(`deploy: ${options.dist} to ${target}, profile ${options.profile}, timeout ${formatDuration(options.timeout)}${mode}`);

  step(1, 'preflight');
  const { problems, dist, recreations } = await runPreflight(kubectl, options);
  if (problems > 0 || !dist) {
    console.error(`error: preflight failed (${problems} problem${problems === 1 ? '' : 's'} above); nothing was applied`);
    return EXIT.preflight;
  }
  const { foundation, rest } = filesInOrder(dist);
  if (options.dryRun) {
    console.log(`dry run: preflight passed; nothing applied. Would apply: ${[...foundation, ...rest].map((entry) => entry.file).join(', ')}`);
    return EXIT.ok;
  }

  step(2, 'namespaces, network policies and Secrets');
  for (const { file } of foundation) {
    const failure = applyFile(kubectl, dist, file);
    if (failure) return stopWith(failure, EXIT.apply);
  }
  console.log('  secrets (missing ones are created with random values; existing ones are left unchanged):');
  const secretsFailure = runSecrets(options);
  if (secretsFailure) return stopWith(secretsFailure, EXIT.apply);

  step(3, `apply the rest of ${options.dist} in order, waiting for each file's workloads`);
  const deadline = new Deadline(options.timeout);
  for (const { file, objects } of rest) {
    for (const plan of recreations.filter((candidate) => objects.some((item) => item.object === candidate.desired))) {
      const recreateFailure = recreateStatefulSet(kubectl, plan);
      if (recreateFailure) return stopWith(recreateFailure, EXIT.apply);
    }
    const applyFailure = applyFile(kubectl, dist, file);
    if (applyFailure) return stopWith(applyFailure, EXIT.apply);
    const waitFailure = await waitForFile(kubectl, objects, deadline);
    if (waitFailure) return stopWith(waitFailure, EXIT.wait);
  }
  if (dist.objects.some(({ object }) => object.kind === 'Certificate')) {
    // Step 2 ran before cert-manager issued PostgreSQL's and Kafka's certificates: now their CAs can be copied for the services.
    console.log('  secrets, again (the CAs of the issued PostgreSQL and Kafka certificates, for the apps namespace):');
    const caFailure = runSecrets(options);
    if (caFailure) return stopWith(caFailure, EXIT.apply);
  }

  if (options.skipVerify) {
    step(4, 'verify: skipped (--skip-verify); run `npm run verify -- --live` to check');
    return EXIT.ok;
  }
  step(4, 'verify (npm run verify -- --live)');
  return runVerify(options);
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error) => {
    // The deploy may have stopped part-way: the code of a change that failed (re-running is safe).
    console.error(`error: deploy failed unexpectedly: ${(error as Error).stack ?? error}`);
    process.exitCode = EXIT.apply;
  },
);
