import * as fs from 'node:fs';
import { Command, InvalidArgumentError, Option } from 'commander';
import { EXIT, exitCodeHelp, parseArguments } from '../lib/exit-codes';
import { VERIFY_CREDENTIALS_SECRET, VERIFY_PRINCIPAL } from '../lib/config/kafka-principals';
import { referenceDir } from '../lib/platform/project-files';
import type { ClusterReader } from './cluster/cluster-reader';
import { FileClusterReader } from './cluster/file-cluster-reader';
import { connectToCluster, selectKubeContext } from './cluster/kube-cluster-reader';
import { directDataPlane, type OpenDataPlane } from './data-plane/data-plane';
import type { GivenKafkaCredentials } from './data-plane/kafka-auth';
import { portForwardedDataPlane } from './data-plane/port-forward';
import { type PostgresConnection, parsePostgresUrl } from './data-plane/postgres-target';
import { formatHuman, formatJson } from './report';
import { ALL_CHECK_IDS, firstLine, type LiveMode, runVerify } from './runner';

const HELP_AFTER = `
${exitCodeHelp('verify')}

Data plane (Kafka and PostgreSQL checks):
  --kafka-brokers and --postgres-url reach them directly (any cluster, or none). Without them, --live
  starts the port-forwards of dist/infra-endpoints.txt (kubectl on PATH) and reads the application
  role's password from its Secret (learnflow-postgres-app). The verifier connects as the application
  role: it checks what the services can and cannot do, and its writes are rolled back.

Kafka with kafka.security (dist/ says the port-forward listener is SASL_SSL):
  the verifier logs in as learnflow.verify with SCRAM-SHA-512 over TLS and verifies the brokers'
  certificate. --live reads the password from the Secret kafka/learnflow-kafka-verify (keys username,
  password) and the CA from the brokers' certificate Secret (kafka-tls, key ca.crt). With
  --kafka-brokers, or to override them: --kafka-user, --kafka-password-file, --kafka-ca-file
  (credentials given are used even where dist/ says PLAINTEXT). A password is never a flag's value.

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
  kafkaBrokers?: string[];
  postgresUrl?: string;
  kafkaUser?: string;
  kafkaPasswordFile?: string;
  kafkaCaFile?: string;
  context?: string;
}

function seconds(value: string): number {
  const parsed = Number(value);
  if (!(parsed > 0 && parsed <= 600)) throw new InvalidArgumentError('must be a number of seconds greater than 0 and at most 600');
  return parsed;
}

function brokerList(value: string): string[] {
  const brokers = value.split(',').map((broker) => broker.trim()).filter(Boolean);
  const wrong = brokers.filter((broker) => !/^[^\s:]+:\d{1,5}$/.test(broker));
  if (brokers.length === 0 || wrong.length > 0) throw new InvalidArgumentError(`expected host:port[,host:port...], got '${wrong[0] ?? value}'`);
  return brokers;
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

/** The files of --kafka-password-file and --kafka-ca-file, read now: an unreadable one is a bad argument (exit 3). */
function readKafkaCredentials(flags: VerifyFlags): GivenKafkaCredentials {
  const read = (flag: string, file: string | undefined) => {
    if (file === undefined) return undefined;
    try {
      return fs.readFileSync(file, 'utf8');
    } catch (error) {
      throw new Error(`${flag} ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
    }
  };
  // Without this, --live would log in as that user with learnflow.verify's password from its Secret.
  if (flags.kafkaUser !== undefined && flags.kafkaUser !== VERIFY_PRINCIPAL && flags.kafkaPasswordFile === undefined) {
    throw new Error(`--kafka-user ${flags.kafkaUser} needs --kafka-password-file with that user's password (the Secret ${VERIFY_CREDENTIALS_SECRET} holds ${VERIFY_PRINCIPAL}'s)`);
  }
  // One trailing newline is the file's, not the password's (echo, kubectl ... | base64 -d >file).
  const password = read('--kafka-password-file', flags.kafkaPasswordFile)?.replace(/\r?\n$/, '');
  if (password === '') throw new Error(`--kafka-password-file ${flags.kafkaPasswordFile} is empty`);
  const ca = read('--kafka-ca-file', flags.kafkaCaFile);
  if (ca !== undefined && !ca.includes('-----BEGIN CERTIFICATE-----')) throw new Error(`--kafka-ca-file ${flags.kafkaCaFile} holds no PEM certificate (-----BEGIN CERTIFICATE-----)`);
  return { ...(flags.kafkaUser ? { user: flags.kafkaUser } : {}), ...(password !== undefined ? { password } : {}), ...(ca !== undefined ? { ca } : {}) };
}

const program = new Command('verify')
  .description('Check that dist/ is right (static checks) and that a cluster running it is healthy (live checks).')
  .option('-d, --dist <dir>', 'directory of synthesized manifests', 'dist')
  .option('--reference <dir>', "reference data (Kubernetes schema, Dapr CRDs and metadata), laid out like the project's", referenceDir())
  .option('--offline', 'static checks only, never contact a cluster')
  .option('--live', 'require the live checks: an unreachable cluster is exit 2 instead of a notice')
  .option('--cluster-state <dir>', 'read the cluster from YAML files (kubectl get -o yaml output) instead of the API server')
  .option('--context <name>', 'kubeconfig context to check (default: the current one)')
  .option('--timeout <seconds>', 'bound on every network wait (cluster API, port-forward, Kafka, PostgreSQL)', seconds, 10)
  .addOption(new Option('-o, --output <format>', 'report format').choices(['human', 'json']).default('human'))
  .option('--check <id...>', 'run only these checks')
  .option('--list-checks', 'print every check id with its description and exit')
  .option('--kafka-brokers <list>', 'Kafka bootstrap servers for data-plane checks (host:port,...)', brokerList)
  .option('--postgres-url <url>', 'PostgreSQL URL for data-plane checks (its password is never printed)')
  .option('--kafka-user <name>', 'Kafka SCRAM user of the data-plane checks (default: learnflow.verify, or the username of its Secret with --live)')
  .option('--kafka-password-file <file>', "file holding the Kafka user's password (e.g. <(kubectl -n kafka get secret learnflow-kafka-verify ...)); implies SCRAM-SHA-512 over TLS")
  .option('--kafka-ca-file <file>', "PEM CA the Kafka brokers' certificates are verified against (default: the brokers' certificate Secret with --live, else the system's)")
  .addHelpText('after', HELP_AFTER)
  .showHelpAfterError();

async function main(): Promise<number> {
  const parsed = parseArguments(program);
  if (parsed !== undefined) return parsed;
  const flags = program.opts<VerifyFlags>();
  selectKubeContext(flags.context);
  if (flags.listChecks) {
    const { KAFKA_LIVE_CHECKS, LIVE_CHECKS, POSTGRES_LIVE_CHECKS, STATIC_CHECKS } = await import('./checks');
    for (const check of [...STATIC_CHECKS, ...LIVE_CHECKS, ...KAFKA_LIVE_CHECKS, ...POSTGRES_LIVE_CHECKS]) console.log(`${check.id.padEnd(36)} ${check.component.padEnd(9)} ${check.description}`);
    return EXIT.ok;
  }
  const unknown = (flags.check ?? []).filter((id) => !ALL_CHECK_IDS.includes(id));
  if (unknown.length > 0) {
    console.error(`error: unknown check id(s): ${unknown.join(', ')} (see --list-checks)`);
    return EXIT.usage;
  }
  if (flags.offline && (flags.live || flags.clusterState)) {
    console.error('error: --offline cannot be combined with --live or --cluster-state');
    return EXIT.usage;
  }
  const notices: string[] = [];
  let postgres: PostgresConnection | undefined;
  try {
    postgres = flags.postgresUrl === undefined ? undefined : parsePostgresUrl(flags.postgresUrl);
  } catch (error) {
    console.error(`error: ${(error as Error).message}`);
    return EXIT.usage;
  }
  let kafkaCredentials: GivenKafkaCredentials;
  try {
    kafkaCredentials = readKafkaCredentials(flags);
  } catch (error) {
    console.error(`error: ${(error as Error).message}`);
    return EXIT.usage;
  }
  let openDataPlane: OpenDataPlane | undefined;
  if (flags.offline) {
    if (flags.kafkaBrokers) notices.push(`--kafka-brokers ${flags.kafkaBrokers.join(',')} ignored: --offline contacts nothing`);
    if (flags.postgresUrl) notices.push(`--postgres-url ${redactUrl(flags.postgresUrl)} ignored: --offline contacts nothing`);
  } else if (flags.kafkaBrokers || postgres) {
    openDataPlane = directDataPlane({ kafkaBrokers: flags.kafkaBrokers, kafkaCredentials, postgres }, flags.timeout * 1000);
  } else if (flags.live && !flags.clusterState) {
    openDataPlane = portForwardedDataPlane(flags.timeout * 1000, kafkaCredentials);
  }

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
    openDataPlane,
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
    // One line that says what went wrong, never a stack trace (the report is read by people and CI logs).
    console.error(`error: verify failed: ${error instanceof Error ? `${error.name}: ${firstLine(error.message)}` : String(error)}`);
    process.exit(EXIT.couldNotCheck);
  },
);
