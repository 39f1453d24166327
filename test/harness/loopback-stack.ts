import * as path from 'node:path';
import { loadConfig } from '../../lib/config/load';
import { LearnflowStack } from '../../lib/learnflow-stack';
import { generateSecretValues } from '../../lib/postgres/secrets';
import { ROOT, readDistDir } from '../support/synth';
import { kafkaEnginesAvailable } from './kafka/client';
import { KafkaTestCluster } from './kafka/cluster';
import { PostgresEngine, requirePostgresEngine } from './postgres/engine';
import { JobPod, type JobResult, type SecretStore } from './postgres/job-pod';

/** The repository's dist/ (minikube profile): what the loopback stack runs. */
export const DIST_DIR = path.join(ROOT, 'dist');

/**
 * Whether both real engines can run here. In CI (CI=true) a missing engine throws (a failure there);
 * locally it prints why and returns false.
 */
export function loopbackEnginesAvailable(suite: string): boolean {
  // Both are asked (no short-circuit), so a local run names every missing engine at once.
  const kafka = kafkaEnginesAvailable(suite);
  const postgres = requirePostgresEngine(suite);
  return kafka && postgres;
}

function expectJob(name: string, result: JobResult): void {
  if (result.exitCode !== 0) throw new Error(`the ${name} Job failed (exit ${result.exitCode}):\n${result.stdout}\n${result.stderr}`);
}

/**
 * The data plane of dist/ on loopback, as a cluster running it would hold it: real Kafka brokers from the
 * StatefulSet with the topics Job run, and a real PostgreSQL 16 started with the StatefulSet's settings
 * with the migrations and seed Jobs run, all from dist/ and with Secrets made as `npm run secrets` makes them.
 */
export class LoopbackStack {
  static async start(): Promise<LoopbackStack> {
    const objects = readDistDir(DIST_DIR);
    const server = objects.find((o) => o.kind === 'StatefulSet' && o.metadata.name === 'postgres')?.spec.template.spec.containers[0];
    if (!server) throw new Error('dist/ has no postgres StatefulSet');
    const contract = new LearnflowStack(loadConfig()).postgres.secrets;
    const secrets: SecretStore = Object.fromEntries(contract.all.map((secret) => [secret.name, secret.render(generateSecretValues(secret))]));

    const startKafka = async () => {
      const kafka = await KafkaTestCluster.start({ distDir: DIST_DIR });
      const topics = await kafka.runTopicsJob();
      if (topics.exitCode !== 0) {
        await kafka.close();
        throw new Error(`the topics Job failed (exit ${topics.exitCode}):\n${topics.output}`);
      }
      return kafka;
    };
    const startPostgres = async () => {
      const initdbArgs = server.env.find((e: { name: string }) => e.name === 'POSTGRES_INITDB_ARGS')?.value.split(' ') ?? [];
      // args[0] is the entrypoint's 'postgres'; the rest are the server's own -c settings.
      const engine = await PostgresEngine.start({ args: server.args.slice(1), initdbArgs, superuserPassword: secrets[contract.superuser.name].password });
      try {
        const network = { host: '127.0.0.1', port: engine.port };
        expectJob('migrations', await new JobPod(objects, 'migrations').run({ network, secrets }));
        expectJob('seed', await new JobPod(objects, 'seed').run({ network, secrets }));
        return engine;
      } catch (error) {
        await engine.stop();
        throw error;
      }
    };
    const [kafka, postgres] = await Promise.allSettled([startKafka(), startPostgres()]);
    if (kafka.status === 'rejected' || postgres.status === 'rejected') {
      if (kafka.status === 'fulfilled') await kafka.value.close();
      if (postgres.status === 'fulfilled') await postgres.value.stop();
      throw kafka.status === 'rejected' ? kafka.reason : (postgres as PromiseRejectedResult).reason;
    }
    const app = secrets[contract.app.name];
    return new LoopbackStack(kafka.value, postgres.value, { user: app.username, password: app.password, database: app.database });
  }

  private constructor(
    readonly kafka: KafkaTestCluster,
    readonly postgres: PostgresEngine,
    /** The application role, as its Secret holds it. */
    readonly app: { readonly user: string; readonly password: string; readonly database: string },
  ) {}

  get kafkaBrokers(): string[] {
    return this.kafka.externalBootstrapServers;
  }

  /** The application role's connection on loopback (what --postgres-url takes). */
  get appConnection() {
    return { host: '127.0.0.1', port: this.postgres.port, ...this.app };
  }

  get appUrl(): string {
    const { user, password, host, port, database } = this.appConnection;
    return `postgresql://${encodeURIComponent(user)}:${encodeURIComponent(password)}@${host}:${port}/${database}`;
  }

  /** A statement in the application database as the superuser (to break things on purpose). */
  asSuperuser<Row extends Record<string, unknown> = Record<string, unknown>>(sql: string, params: unknown[] = []): Promise<Row[]> {
    return this.postgres.query<Row>(sql, params, { ...this.postgres.superuser, database: this.app.database });
  }

  async close(): Promise<void> {
    await Promise.all([this.kafka.close(), this.postgres.stop()]);
  }
}
