import { randomBytes } from 'node:crypto';
import { appCredentialsSecret, appPrincipal } from '../../../lib/config/kafka-security';
import type { KafkaTestCluster } from './cluster';
import type { SecretData } from './pod';

/**
 * The Kafka credentials of Dapr app-ids on a secured test cluster: each app's SCRAM user (`learnflow.app.<appId>`)
 * created on the brokers, and the Secrets `learnflow-kafka-<appId>` (username, password) as `npm run secrets` makes
 * them. The one place the tests create app users: the users Job (issue 10 §1, built beside this) is to take its place.
 */
export async function provisionAppCredentials(cluster: KafkaTestCluster, appIds: readonly string[]): Promise<SecretData> {
  const secrets: Record<string, Record<string, string>> = {};
  for (const appId of appIds) {
    const credentials = { username: appPrincipal(appId), password: randomBytes(18).toString('base64url') };
    const created = await cluster.upsertScramUser(credentials.username, credentials.password);
    if (created.exitCode !== 0) throw new Error(`creating the SCRAM user ${credentials.username} failed:\n${created.output}`);
    secrets[appCredentialsSecret(appId)] = credentials;
  }
  return secrets;
}
