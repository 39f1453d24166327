import type { LiveContext, StaticContext } from '../context';
import type { Check } from '../model';
import {
  liveDaprComponents,
  liveDaprControlPlane,
  liveCronJobsRecent,
  liveDaprCrds,
  liveJobsComplete,
  liveNamespaces,
  livePvcsBound,
  liveServiceEndpoints,
  liveStatefulSetsReady,
} from './cluster';
import { daprComponentMetadata, daprComponentScopes, daprKafkaBrokersResolve } from './dapr';
import {
  kafkaHeadlessService,
  kafkaHeapWithinLimit,
  kafkaInternalTopicReplication,
  kafkaParallelPods,
  kafkaQuorumVoters,
  kafkaServiceLinksDisabled,
  kafkaTopicReplication,
  kafkaTopicsDeclared,
} from './kafka';
import { kafkaLiveBrokers, type KafkaLiveContext, kafkaLivePartitionsInSync, kafkaLiveRoundTrip, kafkaLiveTopicConfigs, kafkaLiveTopics } from './kafka-live';
import { applyOrder, dataDirSubdirectory, jobContentHash, namespacePodSecurity, networkPolicyDefaultDeny, networkPolicyPeersResolve, noSecretValues, pvcRetention } from './platform';
import { imagePinned, podSecurityRestricted, probesOnLongRunning, readOnlyRootFilesystem, resourcesRequestsLimits } from './pod-security';
import { postgresSeedCurriculum, postgresTablesDeclared } from './postgres';
import {
  type PostgresLiveContext,
  postgresLiveMigrations,
  postgresLiveRolePrivileges,
  postgresLiveSeed,
  postgresLiveTables,
  postgresLiveArchiver,
  postgresLiveWriteRoundTrip,
} from './postgres-live';
import { configMapReferences, secretReferences, selectorMatchesTemplate, servicePortsResolve, volumeReferences } from './references';
import { daprCrdSchema, kubernetesSchema } from './schema';

/** Checks of dist/ and the reference data alone, in report order. Adding a check is adding it here. */
export const STATIC_CHECKS: readonly Check<StaticContext>[] = [
  kubernetesSchema,
  namespacePodSecurity,
  applyOrder,
  podSecurityRestricted,
  readOnlyRootFilesystem,
  resourcesRequestsLimits,
  imagePinned,
  probesOnLongRunning,
  selectorMatchesTemplate,
  servicePortsResolve,
  configMapReferences,
  secretReferences,
  volumeReferences,
  noSecretValues,
  jobContentHash,
  pvcRetention,
  dataDirSubdirectory,
  networkPolicyDefaultDeny,
  networkPolicyPeersResolve,
  kafkaParallelPods,
  kafkaHeadlessService,
  kafkaServiceLinksDisabled,
  kafkaQuorumVoters,
  kafkaInternalTopicReplication,
  kafkaHeapWithinLimit,
  kafkaTopicReplication,
  kafkaTopicsDeclared,
  postgresTablesDeclared,
  postgresSeedCurriculum,
  daprCrdSchema,
  daprComponentMetadata,
  daprComponentScopes,
  daprKafkaBrokersResolve,
];

/** Checks of a running cluster through a ClusterReader. */
export const LIVE_CHECKS: readonly Check<LiveContext>[] = [
  liveNamespaces,
  liveStatefulSetsReady,
  livePvcsBound,
  liveServiceEndpoints,
  liveJobsComplete,
  liveCronJobsRecent,
  liveDaprCrds,
  liveDaprControlPlane,
  liveDaprComponents,
];

/** Checks of the Kafka brokers themselves (kafkajs), through --kafka-brokers or a port-forward. */
export const KAFKA_LIVE_CHECKS: readonly Check<KafkaLiveContext>[] = [
  kafkaLiveBrokers,
  kafkaLiveTopics,
  kafkaLiveTopicConfigs,
  kafkaLivePartitionsInSync,
  kafkaLiveRoundTrip,
];

/** Checks of the LearnFlow database (pg), through --postgres-url or a port-forward. */
export const POSTGRES_LIVE_CHECKS: readonly Check<PostgresLiveContext>[] = [
  postgresLiveMigrations,
  postgresLiveTables,
  postgresLiveSeed,
  postgresLiveRolePrivileges,
  postgresLiveWriteRoundTrip,
  postgresLiveArchiver,
];
