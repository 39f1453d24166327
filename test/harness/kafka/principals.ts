import { VERIFY_PRINCIPAL } from '../../../lib/config/kafka-principals';
import type { KafkaTestCluster } from './cluster';

/**
 * The verifier's SCRAM user (learnflow.verify) on a secured test cluster, with `password`: what the Secret
 * learnflow-kafka-verify holds in a cluster. The one place tests create it: until the users Job (lib/kafka,
 * branch acl) lands, with Kafka's own kafka-configs.sh as the admin principal; then by running that Job.
 * No authorizer runs yet, so the user may do anything an authenticated client may.
 */
export async function createVerifyPrincipal(cluster: KafkaTestCluster, password: string): Promise<{ username: string; password: string }> {
  const created = await cluster.upsertScramUser(VERIFY_PRINCIPAL, password);
  if (created.exitCode !== 0) throw new Error(`creating SCRAM user ${VERIFY_PRINCIPAL} failed:\n${created.output}`);
  return { username: VERIFY_PRINCIPAL, password };
}
