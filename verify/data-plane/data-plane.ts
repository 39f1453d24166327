import type { Dist } from '../dist';
import { type GivenKafkaCredentials, givenKafkaAuth, kafkaClientListenerOf } from './kafka-auth';
import { KafkaTarget } from './kafka-target';
import { type PostgresConnection, PostgresTarget } from './postgres-target';

/** Kafka and PostgreSQL as the data-plane checks reach them; a target that was not asked for is undefined. */
export interface DataPlane {
  readonly kafka?: KafkaTarget;
  readonly postgres?: PostgresTarget;
  /** Where the targets are, for the report: never a password. */
  readonly description: string;
  /** Closes connections and stops whatever was started to reach the targets (port-forwards). */
  close(): Promise<void>;
}

export interface DataPlaneRequest {
  readonly dist: Dist;
  /** Whether the cluster's API server answered: port-forwards go through it. */
  readonly clusterReached: boolean;
  readonly onProgress?: (message: string) => void;
}

/** Opens the data plane, or throws ClusterUnavailableError when it cannot be reached at all. */
export type OpenDataPlane = (request: DataPlaneRequest) => Promise<DataPlane>;

export function dataPlaneOf(kafka: KafkaTarget | undefined, postgres: PostgresTarget | undefined, via: string, stop: () => void = () => undefined): DataPlane {
  const parts = [kafka?.description, postgres?.description].filter(Boolean);
  return {
    kafka,
    postgres,
    description: `${parts.join('; ')}${via ? ` (${via})` : ''}`,
    close: async () => {
      await Promise.all([kafka?.close(), postgres?.close()]);
      stop();
    },
  };
}

/**
 * The targets of --kafka-brokers and --postgres-url, as given. Kafka authenticates with the credentials given
 * (--kafka-user, --kafka-password-file, --kafka-ca-file), or, where dist/'s listener asks for SCRAM and none
 * were given, its checks say what to pass.
 */
export function directDataPlane(
  targets: { readonly kafkaBrokers?: readonly string[]; readonly kafkaCredentials?: GivenKafkaCredentials; readonly postgres?: PostgresConnection },
  timeoutMs: number,
): OpenDataPlane {
  return async ({ dist }) =>
    dataPlaneOf(
      targets.kafkaBrokers ? new KafkaTarget(targets.kafkaBrokers, timeoutMs, givenKafkaAuth(kafkaClientListenerOf(dist), targets.kafkaCredentials ?? {})) : undefined,
      targets.postgres ? new PostgresTarget(targets.postgres, timeoutMs) : undefined,
      '',
    );
}
