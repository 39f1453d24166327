// The Kafka principals of kafka.security and the Secrets that hold their credentials (`npm run secrets`).
// The users Job (lib/kafka/users.sh) owns every SCRAM user and ACL whose principal starts with the prefix,
// and nothing else: it creates, updates and removes only those.
export const KAFKA_OWNED_PRINCIPAL_PREFIX = 'learnflow.';
/** The SCRAM user of one Dapr app-id: its sidecars' pub/sub component logs in as it. */
export const appPrincipal = (appId: string): string => `${KAFKA_OWNED_PRINCIPAL_PREFIX}app.${appId}`;
/** The SCRAM user of `npm run verify -- --live` (describe the declared topics, round-trip on the verify topic). */
export const VERIFY_PRINCIPAL = `${KAFKA_OWNED_PRINCIPAL_PREFIX}verify`;
/** The Secret (keys username, password) of one app-id's SCRAM user: in the kafka namespace (the users Job) and the apps namespace (its Dapr component). */
export const appCredentialsSecret = (appId: string): string => `learnflow-kafka-${appId}`;
/** The Secret (keys username, password) of the verifier's SCRAM user, in the kafka namespace. */
export const VERIFY_CREDENTIALS_SECRET = 'learnflow-kafka-verify';
/** The Secret in the apps namespace that holds the CA (key ca.crt) the Dapr sidecars verify the brokers with. */
export const KAFKA_CA_SECRET = 'learnflow-kafka-ca';
