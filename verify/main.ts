import { Command, InvalidArgumentError, Option } from 'commander';
import * as path from 'path';
import { projectRoot } from '../lib/platform/project-files';
import { ClusterReader } from './cluster/cluster-reader';
import { FileClusterReader } from './cluster/file-cluster-reader';
import { connectToCluster } from './cluster/kube-cluster-reader';
import { formatHuman, formatJson } from './report';
import { ALL_CHECK_IDS, LiveMode, runVerify } from './runner';

const EXIT_CODES = `
Exit codes:
  0  healthy: no check failed (warnings allowed)
  1  findings: at least one check failed
  2  could not check: dist/ or the reference data unreadable, or --live and no cluster answered

Environment:
  LEARNFLOW_VERIFY_CACHE=off  do not keep compiled schema validators in ~/.cache/learnflow-infra/verify-schemas`;

interface VerifyFlags {
  dist: string;
  reference: string;
  offline?: boolean;
  live?: boolean;
  clusterState?: string;
  timeout: number;
  output: 'human' | 'json';
  check?: string[];
  listChecks?: boolean;
  kafkaBrokers?: string;
  postgresUrl?: string;
}

function seconds(value: string): number {
  const parsed = Number(value);
  if (!(parsed > 0 && parsed <= 600)) throw new InvalidArgumentError('must be a number of seconds between 0 and 600');
  return parsed;
}

/** The URL with its password replaced, so it can appear in a report. */
function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '(unparseable URL)';
  }
}

const program = new Command('verify')
  .description('Check that dist/ is right (static checks) and that a cluster running it is healthy (live checks).')
  .option('-d, --dist <dir>', 'directory of synthesized manifests', 'dist')
  .option('--reference <dir>', 'reference data (Kubernetes schema, Dapr CRDs and metadata)', path.join(projectRoot(), '..', 'shared', 'reference'))
  .option('--offline', 'static checks only, never contact a cluster')
  .option('--live', 'require the live checks: an unreachable cluster is exit 2 instead of a notice')
  .option('--cluster-state <dir>', 'read the cluster from YAML files (kubectl get -o yaml output) instead of the API server')
  .option('--timeout <seconds>', 'bound on every cluster call', seconds, 10)
  .addOption(new Option('-o, --output <format>', 'report format').choices(['human', 'json']).default('human'))
  .option('--check <id...>', 'run only these checks')
  .option('--list-checks', 'print every check id with its description and exit')
  .option('--kafka-brokers <list>', 'Kafka bootstrap servers for data-plane checks (host:port,...)')
  .option('--postgres-url <url>', 'PostgreSQL URL for data-plane checks (its password is never printed)')
  .addHelpText('after', EXIT_CODES)
  .showHelpAfterError();

async function main(): Promise<number> {
  program.parse();
  const flags = program.opts<VerifyFlags>();
  if (flags.listChecks) {
    const { LIVE_CHECKS, STATIC_CHECKS } = await import('./checks');
    for (const check of [...STATIC_CHECKS, ...LIVE_CHECKS]) console.log(`${check.id.padEnd(36)} ${check.component.padEnd(9)} ${check.description}`);
    return 0;
  }
  const unknown = (flags.check ?? []).filter((id) => !ALL_CHECK_IDS.includes(id));
  if (unknown.length > 0) {
    console.error(`error: unknown check id(s): ${unknown.join(', ')} (see --list-checks)`);
    return 2;
  }
  if (flags.offline && (flags.live || flags.clusterState)) {
    console.error('error: --offline cannot be combined with --live or --cluster-state');
    return 2;
  }
  const notices: string[] = [];
  // Data-plane checks (kafkajs, pg) are not written yet: say so rather than imply they passed.
  if (flags.kafkaBrokers) notices.push(`--kafka-brokers ${flags.kafkaBrokers}: Kafka data-plane checks are not implemented yet; nothing was checked there`);
  if (flags.postgresUrl) notices.push(`--postgres-url ${redactUrl(flags.postgresUrl)}: PostgreSQL data-plane checks are not implemented yet; nothing was checked there`);

  const live: LiveMode = flags.offline ? 'off' : flags.live || flags.clusterState ? 'required' : 'auto';
  const connect = async (): Promise<ClusterReader> =>
    flags.clusterState ? new FileClusterReader(flags.clusterState) : connectToCluster(flags.timeout * 1000);
  const showProgress = flags.output === 'human' && process.stderr.isTTY;
  const report = await runVerify({
    distDir: flags.dist,
    referenceDir: flags.reference,
    live,
    connect,
    only: flags.check,
    notices,
    onProgress: showProgress ? (message) => process.stderr.write(`\r\x1b[K${message}...`) : undefined,
  });
  if (showProgress) process.stderr.write('\r\x1b[K');
  console.log(flags.output === 'json' ? formatJson(report) : formatHuman(report));
  return report.exitCode;
}

main().then(
  (code) => {
    // Explicit exit: a timed-out API request may still hold a socket open.
    process.stdout.write('', () => process.exit(code));
  },
  (error) => {
    console.error(`error: verify failed: ${(error as Error).stack ?? error}`);
    process.exit(2);
  },
);
