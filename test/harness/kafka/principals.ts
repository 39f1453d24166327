import { randomBytes } from 'node:crypto';
import { daprDefaults } from '../../../lib/config/dapr';
import { appCredentialsSecret, appPrincipal, VERIFY_CREDENTIALS_SECRET, VERIFY_PRINCIPAL } from '../../../lib/config/kafka-principals';
import type { KafkaTestCluster } from './cluster';

/** A Secret of the Kafka credentials in the secret contract: keys username and password. */
export type KafkaCredentials = Readonly<Record<string, { readonly username: string; readonly password: string }>>;

/**
 * The Kafka credential Secrets as `npm run secrets` creates them (24 random bytes, base64url): one per app-id
 * (`learnflow-kafka-<appId>`) and the verifier's (`learnflow-kafka-verify`, with `verifyPassword` when given).
 * Passed in the harness's `security.secrets`, they are what the users Job of dist/ mounts.
 */
export function kafkaCredentialSecrets(options: { appIds?: readonly string[]; verifyPassword?: string } = {}): KafkaCredentials {
  const password = () => randomBytes(24).toString('base64url');
  return Object.fromEntries([
    ...(options.appIds ?? daprDefaults.appIds).map((appId) => [appCredentialsSecret(appId), { username: appPrincipal(appId), password: password() }]),
    [VERIFY_CREDENTIALS_SECRET, { username: VERIFY_PRINCIPAL, password: options.verifyPassword ?? password() }],
  ]);
}

/** Runs the users Job of the dist/ applied last (its SCRAM users and ACLs), and fails with its output when it fails. */
export async function runUsersJob(cluster: KafkaTestCluster): Promise<void> {
  const run = await cluster.runUsersJob();
  if (run.exitCode !== 0) throw new Error(`the users Job failed (exit ${run.exitCode}):\n${run.output}`);
}
