import * as path from 'node:path';
import type { StaticContext } from '../context';
import type { KafkaSnapshot, KafkaTarget } from '../data-plane/kafka-target';
import type { Dist } from '../dist';
import { type DeclaredTopic, topicsFiles } from '../kafka-topics';
import { type Check, type CheckResult, type DistObject, fail, formatRef, type ObjectRef, pass, refOf, skip } from '../model';
import { kafkaStatefulSets, namespaceOf, objectsOfKind } from '../workloads';
import { brokerCount } from './kafka';

/** Live checks of the Kafka brokers themselves (kafkajs), through --kafka-brokers or a port-forward. */
export interface KafkaLiveContext extends StaticContext {
  readonly kafka: KafkaTarget;
}

/** The topic the topics Job declares for the verifier's produce/consume round trip (see the endpoints document). */
export const VERIFY_TOPIC = 'learnflow.verify';

interface Declared {
  readonly topic: DeclaredTopic;
  readonly configMap: DistObject;
}

function declaredTopics(dist: Dist): Declared[] {
  return topicsFiles(dist).flatMap((file) => file.topics.map((topic) => ({ topic, configMap: file.configMap })));
}

/** The shared answer of the brokers: every check asks for the same topics and configs, so the first one reads it. */
function snapshotOf({ dist, kafka }: KafkaLiveContext): Promise<KafkaSnapshot> {
  const declared = declaredTopics(dist).map((entry) => entry.topic);
  const configNames = [...new Set(declared.flatMap((topic) => Object.keys(topic.configs)))].sort();
  return kafka.snapshot(
    declared.map((topic) => topic.name),
    configNames,
  );
}

const topicRef = (name: string): ObjectRef => ({ kind: 'KafkaTopic', name });
const refsOf = ({ topic, configMap }: Declared): ObjectRef[] => [topicRef(topic.name), refOf(configMap)];

/** One result per declared topic that exists; a missing topic is kafka-live-topics' finding, not repeated here. */
async function perExistingTopic(context: KafkaLiveContext, judge: (entry: Declared, snapshot: KafkaSnapshot) => CheckResult | undefined): Promise<CheckResult[]> {
  const declared = declaredTopics(context.dist);
  if (declared.length === 0) return [skip('no topics.conf in dist/')];
  const snapshot = await snapshotOf(context);
  return declared.flatMap((entry) =>
    snapshot.topics.has(entry.topic.name) ? (judge(entry, snapshot) ?? []) : [skip(`${entry.topic.name} does not exist (see kafka-live-topics)`)],
  );
}

const RERUN_TOPICS_JOB = 'the topics Job reconciles topics: kubectl -n kafka logs job/<topics job>; delete and re-apply it to run it again';

export const kafkaLiveBrokers: Check<KafkaLiveContext> = {
  id: 'kafka-live-brokers',
  description: 'the brokers answer, as many as the Kafka StatefulSets of dist/ run, and report an active controller',
  component: 'kafka',
  remediation: 'kubectl -n kafka get pods; kubectl -n kafka logs <broker pod> (a broker that never registers cannot reach the controller quorum)',
  run: async (context) => {
    const sets = kafkaStatefulSets(context.dist);
    if (sets.length === 0) return [skip('no Kafka StatefulSet in dist/')];
    const refs = sets.map(refOf);
    const expected = brokerCount(context.dist);
    const snapshot = await snapshotOf(context);
    const ids = snapshot.brokers.map((broker) => broker.nodeId).sort((a, b) => a - b);
    const brokers =
      ids.length === expected
        ? pass(refs, `${ids.length} of ${expected} brokers registered (node ids ${ids.join(', ')})`)
        : fail(refs, `${ids.length} of ${expected} brokers registered (node ids ${ids.join(', ') || 'none'}) for ${refs.map(formatRef).join(', ')}`);
    // KRaft brokers name an active broker as the controller only while they follow a quorum leader.
    const controller =
      snapshot.controller !== null && ids.includes(snapshot.controller)
        ? pass(refs, `the brokers report an active controller (node ${snapshot.controller})`)
        : fail(refs, `the brokers report no active controller (${snapshot.controller ?? 'none'}): the KRaft quorum has no leader`, 'kubectl -n kafka logs <broker pod> | grep -i quorum: are enough voters running to elect a leader?');
    return [brokers, controller];
  },
};

export const kafkaLiveTopics: Check<KafkaLiveContext> = {
  id: 'kafka-live-topics',
  description: 'every topic of topics.conf exists with the declared partitions and replication factor',
  component: 'kafka',
  remediation: RERUN_TOPICS_JOB,
  run: async (context) => {
    const declared = declaredTopics(context.dist);
    if (declared.length === 0) return [skip('no topics.conf in dist/')];
    const snapshot = await snapshotOf(context);
    return declared.map((entry) => {
      const { topic } = entry;
      const partitions = snapshot.topics.get(topic.name);
      if (!partitions) return fail(refsOf(entry), `topic ${topic.name} does not exist`);
      const replicationFactor = Math.max(0, ...partitions.map((p) => p.replicas.length));
      const problems = [
        ...(partitions.length === topic.partitions ? [] : [`${partitions.length} partitions, dist/ declares ${topic.partitions}`]),
        ...(replicationFactor === topic.replicationFactor ? [] : [`replication factor ${replicationFactor}, dist/ declares ${topic.replicationFactor}`]),
      ];
      if (problems.length === 0) return pass(refsOf(entry), `${topic.name}: ${partitions.length} partitions, replication factor ${replicationFactor}`);
      // Partitions never shrink: more than declared is fixed in the config, fewer by the topics Job.
      const remediation =
        partitions.length > topic.partitions
          ? `partitions cannot be removed: declare ${partitions.length} partitions for ${topic.name} in the config and re-synth (or recreate the topic, losing its data)`
          : undefined;
      return fail(refsOf(entry), `${topic.name}: ${problems.join('; ')}`, remediation);
    });
  },
};

export const kafkaLiveTopicConfigs: Check<KafkaLiveContext> = {
  id: 'kafka-live-topic-configs',
  description: 'every topic has the configs topics.conf declares (retention.ms, cleanup.policy, min.insync.replicas, ...)',
  component: 'kafka',
  remediation: `${RERUN_TOPICS_JOB} (it aligns configs with incremental alters); or kafka-configs.sh --alter --add-config`,
  run: (context) =>
    perExistingTopic(context, (entry, snapshot) => {
      const { topic } = entry;
      const live = snapshot.configs.get(topic.name) ?? {};
      const declared = Object.entries(topic.configs);
      if (declared.length === 0) return undefined;
      const wrong = declared.filter(([name, value]) => live[name] !== value).map(([name, value]) => `${name}=${live[name] ?? '(unset)'}, dist/ declares ${value}`);
      return wrong.length === 0
        ? pass(refsOf(entry), `${topic.name}: ${declared.map(([name, value]) => `${name}=${value}`).join(', ')}`)
        : fail(refsOf(entry), `${topic.name}: ${wrong.join('; ')}`);
    }),
};

export const kafkaLivePartitionsInSync: Check<KafkaLiveContext> = {
  id: 'kafka-live-partitions-in-sync',
  description: 'no partition of any topic is offline (no leader) or under-replicated (in-sync replicas fewer than replicas)',
  component: 'kafka',
  remediation: 'a broker is down or lagging: kubectl -n kafka get pods; kubectl -n kafka logs <broker pod>',
  run: async (context) => {
    const snapshot = await snapshotOf(context);
    if (snapshot.topics.size === 0) return [skip('the cluster has no topics')];
    const results: CheckResult[] = [];
    let partitionCount = 0;
    for (const [name, partitions] of [...snapshot.topics].sort(([a], [b]) => a.localeCompare(b))) {
      partitionCount += partitions.length;
      const offline = partitions.filter((p) => p.leader < 0).map((p) => p.partitionId);
      const under = partitions.filter((p) => p.leader >= 0 && p.isr.length < p.replicas.length).map((p) => `${p.partitionId} (in sync ${p.isr.length}/${p.replicas.length})`);
      const problems = [...(offline.length ? [`offline partitions ${offline.join(', ')}`] : []), ...(under.length ? [`under-replicated partitions ${under.join(', ')}`] : [])];
      if (problems.length > 0) results.push(fail([topicRef(name)], `${name}: ${problems.join('; ')}`));
    }
    return results.length > 0 ? results : [pass([], `${partitionCount} partitions of ${snapshot.topics.size} topics, every one led and fully in sync`)];
  },
};

export const kafkaLiveRoundTrip: Check<KafkaLiveContext> = {
  id: 'kafka-live-round-trip',
  description: `a message with a unique key written to ${VERIFY_TOPIC} (acks=all) reads back at its offset`,
  component: 'kafka',
  remediation: `kubectl -n kafka logs <broker pod>; a write that fails with NOT_ENOUGH_REPLICAS means fewer in-sync replicas than min.insync.replicas of ${VERIFY_TOPIC}`,
  run: async (context) => {
    const entry = declaredTopics(context.dist).find((declared) => declared.topic.name === VERIFY_TOPIC);
    if (!entry) return [skip(`dist/ declares no ${VERIFY_TOPIC} topic`)];
    const snapshot = await snapshotOf(context);
    if (!snapshot.topics.has(VERIFY_TOPIC)) return [fail(refsOf(entry), `${VERIFY_TOPIC} does not exist, nothing to write to`, RERUN_TOPICS_JOB)];
    try {
      const trip = await context.kafka.roundTrip(VERIFY_TOPIC);
      return trip.matched
        ? [pass(refsOf(entry), `wrote and read back partition ${trip.partition} offset ${trip.offset} in ${trip.elapsedMs} ms`)]
        : [fail(refsOf(entry), `wrote partition ${trip.partition} offset ${trip.offset}, but the message read back there is not the one written`)];
    } catch (error) {
      return [fail(refsOf(entry), `round trip on ${VERIFY_TOPIC} failed: ${(error as Error).message}`)];
    }
  },
};


/** The rebalance Job of dist/ (`<kafka.name>-rebalance-<hash>`, lib/kafka/rebalance.sh): it drains node ids >= its BROKERS. */
function rebalanceJobOf(dist: Dist): DistObject | undefined {
  return objectsOfKind(dist, 'Job').find((item) => /-rebalance-[0-9a-f]+$/.test(item.object.metadata.name));
}

export const kafkaLiveRemovedBrokersEmpty: Check<KafkaLiveContext> = {
  id: 'kafka-live-removed-brokers-empty',
  description: "no replica on a broker that dist/'s StatefulSet removes (node id >= its replicas): scaling in would take those replicas away",
  component: 'kafka',
  remediation:
    "drain those brokers first: the rebalance Job of dist/ moves the declared topics' replicas off node ids >= kafka.brokers, kafka-reassign-partitions.sh any other topic's; then apply the smaller StatefulSet",
  run: async (context) => {
    const sets = kafkaStatefulSets(context.dist);
    if (sets.length === 0) return [skip('no Kafka StatefulSet in dist/')];
    const brokers = brokerCount(context.dist);
    const snapshot = await snapshotOf(context);
    const held = new Map<number, string[]>();
    for (const [topic, partitions] of [...snapshot.topics].sort(([a], [b]) => a.localeCompare(b))) {
      for (const partition of partitions) {
        for (const id of partition.replicas.filter((replica) => replica >= brokers)) held.set(id, [...(held.get(id) ?? []), `${topic}-${partition.partitionId}`]);
      }
    }
    const refs = sets.map(refOf);
    if (held.size === 0) return [pass(refs, `no replica on a node id >= ${brokers}, the brokers of dist/`)];
    const job = rebalanceJobOf(context.dist);
    const topics = [...new Set([...held.values()].flat().map((partition) => partition.replace(/-\d+$/, '')))];
    const byHand =
      `or by hand from a broker pod: echo '${JSON.stringify({ version: 1, topics: topics.map((topic) => ({ topic })) })}' >/tmp/topics.json; ` +
      `kafka-reassign-partitions.sh --bootstrap-server localhost:9092 --topics-to-move-json-file /tmp/topics.json --broker-list ${[...Array(brokers).keys()].join(',')} --generate ` +
      '(save the proposed assignment as /tmp/plan.json), then --reassignment-json-file /tmp/plan.json --execute --throttle 52428800, and --verify until every partition is completed (it removes the throttle)';
    const drain = job
      ? `before applying the rest of dist/: kubectl apply -f ${path.relative(process.cwd(), path.join(context.dist.dir, job.file))} && kubectl -n ${namespaceOf(job)} wait --for=condition=complete job/${job.object.metadata.name} --timeout=1h (the Job moves the declared topics' replicas off node ids >= ${brokers}); ${byHand}`
      : byHand;
    return [...held].sort(([a], [b]) => a - b).map(([id, partitions]) =>
      fail(refs, `broker ${id} still holds ${partitions.length} replicas (${partitions.join(', ')}), but dist/ runs ${brokers} brokers (node ids 0..${brokers - 1}): scaling in would remove them`, drain),
    );
  },
};
