// What LearnFlow needs: the domain of the product brief (9 topics, 9 tables, the 24-topic curriculum). The verifier holds its
// own copy on purpose: it judges dist/ against the product, not against the config that produced dist/.

const DAY_MS = 24 * 60 * 60 * 1000;

export interface ExpectedTopic {
  readonly name: string;
  readonly partitions: number;
  readonly retentionMs: number;
}

export const LEARNFLOW_TOPICS: readonly ExpectedTopic[] = [
  { name: 'learning.query', partitions: 3, retentionMs: 7 * DAY_MS },
  { name: 'learning.response', partitions: 3, retentionMs: 7 * DAY_MS },
  { name: 'code.execution.request', partitions: 3, retentionMs: 3 * DAY_MS },
  { name: 'code.execution.result', partitions: 3, retentionMs: 3 * DAY_MS },
  { name: 'exercise.assigned', partitions: 2, retentionMs: 30 * DAY_MS },
  { name: 'exercise.submitted', partitions: 2, retentionMs: 30 * DAY_MS },
  { name: 'exercise.graded', partitions: 2, retentionMs: 30 * DAY_MS },
  { name: 'struggle.detected', partitions: 2, retentionMs: 7 * DAY_MS },
  { name: 'progress.updated', partitions: 2, retentionMs: 30 * DAY_MS },
];

export const LEARNFLOW_TABLES: readonly string[] = [
  'users',
  'students',
  'teachers',
  'topics',
  'exercises',
  'submissions',
  'progress',
  'chat_history',
  'struggle_alerts',
];

/** The Python curriculum: 8 modules x 3 topics. */
export const CURRICULUM_TOPIC_COUNT = 24;
