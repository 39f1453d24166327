import type { LiveContext, StaticContext } from '../context';
import type { Check } from '../model';
import { pdbAvailability, podAntiAffinity } from './availability';
import {
  liveCertificateIssuers,
  liveCertManagerCrds,
  liveDaprComponents,
  liveDaprControlPlane,
  liveCronJobsRecent,
  liveDaprCrds,
  liveJobsComplete,
  liveNamespaces,
  livePrometheusOperatorCrds,
  livePvcsBound,
  liveServiceEndpoints,
  liveStatefulSetsReady,
} from './cluster';
import { daprComponentMetadata, daprComponentScopes, daprPubSubAuthenticated, daprPubSubPerApp } from './dapr';
import { jobBounded, jobContentHash } from './jobs';
import {
  kafkaDisruptionSafety,
  kafkaHeadlessService,
  kafkaHeapWithinLimit,
  kafkaInternalTopicReplication,
  kafkaJobsAuthenticated,
  kafkaListenersAuthenticated,
  kafkaMinInsyncReplicas,
  kafkaParallelPods,
  kafkaQuorumSize,
  kafkaQuorumVoters,
  kafkaServiceLinksDisabled,
  kafkaTopicReplication,
  kafkaTopicsDeclared,
} from './kafka';
import {
  type KafkaLiveContext,
  kafkaLiveBrokers,
  kafkaLivePartitionsInSync,
  kafkaLiveRemovedBrokersEmpty,
  kafkaLiveRoundTrip,
  kafkaLiveTopicConfigs,
  kafkaLiveTopics,
} from './kafka-live';
import { kafkaAclsLeastPrivilege, kafkaAuthorizer } from './kafka-acls';
import { networkReachability } from './network';
import { applyOrder, dataDirSubdirectory, namespacePodSecurity, networkPolicyDefaultDeny, networkPolicyPeersResolve, noSecretValues, pvcRetention } from './platform';
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
import { postgresMemoryPlan } from './postgres-memory';
import { configMapReferences, secretReferences, selectorMatchesTemplate, servicePortsResolve, volumeReferences } from './references';
import { daprCrdSchema, kubernetesSchema, prometheusOperatorCrdSchema } from './schema';
import { networkPolicyWidening, rbacLeastPrivilege } from './widening';
import { kafkaClientPort, postgresClientPort } from './wiring';

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
  jobBounded,
  pdbAvailability,
  podAntiAffinity,
  pvcRetention,
  dataDirSubdirectory,
  networkPolicyDefaultDeny,
  networkPolicyPeersResolve,
  networkPolicyWidening,
  rbacLeastPrivilege,
  networkReachability,
  kafkaParallelPods,
  kafkaHeadlessService,
  kafkaServiceLinksDisabled,
  kafkaQuorumVoters,
  kafkaQuorumSize,
  kafkaDisruptionSafety,
  kafkaInternalTopicReplication,
  kafkaHeapWithinLimit,
  kafkaTopicReplication,
  kafkaMinInsyncReplicas,
  kafkaListenersAuthenticated,
  kafkaJobsAuthenticated,
  kafkaAuthorizer,
  kafkaAclsLeastPrivilege,
  kafkaClientPort,
  kafkaTopicsDeclared,
  postgresTablesDeclared,
  postgresSeedCurriculum,
  postgresMemoryPlan,
  postgresClientPort,
  daprCrdSchema,
  prometheusOperatorCrdSchema,
  daprComponentMetadata,
  daprComponentScopes,
  daprPubSubPerApp,
  daprPubSubAuthenticated,
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
  livePrometheusOperatorCrds,
  liveCertManagerCrds,
  liveCertificateIssuers,
  liveDaprControlPlane,
  liveDaprComponents,
];

/** Checks of the Kafka brokers themselves (kafkajs), through --kafka-brokers or a port-forward. */
export const KAFKA_LIVE_CHECKS: readonly Check<KafkaLiveContext>[] = [
  kafkaLiveBrokers,
  kafkaLiveTopics,
  kafkaLiveTopicConfigs,
  kafkaLivePartitionsInSync,
  kafkaLiveRemovedBrokersEmpty,
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
