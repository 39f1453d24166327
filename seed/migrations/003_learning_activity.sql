-- 003: learning activity. What students do (submissions, chat) and what the agents derive from it
-- (progress, struggle alerts). Deleting a student erases their activity (ON DELETE CASCADE).

-- submissions: one attempt at an exercise, from submission through grading in the sandbox.
CREATE TABLE submissions (
  id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  student_id        uuid NOT NULL CONSTRAINT submissions_student_id_fkey REFERENCES students (id) ON DELETE CASCADE,
  exercise_id       uuid NOT NULL CONSTRAINT submissions_exercise_id_fkey REFERENCES exercises (id) ON DELETE RESTRICT,
  code              text NOT NULL,
  status            text NOT NULL DEFAULT 'pending',
  test_results      jsonb,
  score             smallint,
  execution_time_ms integer,
  submitted_at      timestamptz NOT NULL DEFAULT now(),
  graded_at         timestamptz,
  -- The sandbox rejects more; this keeps a runaway client from storing megabytes per row.
  CONSTRAINT submissions_code_check CHECK (octet_length(code) <= 100000),
  CONSTRAINT submissions_status_check CHECK (status IN ('pending', 'running', 'passed', 'failed', 'error')),
  -- Final states are graded; pending and running ones are not yet.
  CONSTRAINT submissions_graded_check CHECK ((status IN ('passed', 'failed', 'error')) = (graded_at IS NOT NULL)),
  CONSTRAINT submissions_graded_at_check CHECK (graded_at >= submitted_at),
  CONSTRAINT submissions_score_check CHECK (score BETWEEN 0 AND 100),
  CONSTRAINT submissions_execution_time_ms_check CHECK (execution_time_ms >= 0)
);
-- A student's attempts at one exercise, newest first.
CREATE INDEX submissions_student_exercise_idx ON submissions (student_id, exercise_id, submitted_at DESC);
-- A student's recent work across exercises.
CREATE INDEX submissions_student_submitted_idx ON submissions (student_id, submitted_at DESC);
-- Per-exercise statistics, and the RESTRICT check when an exercise is deleted.
CREATE INDEX submissions_exercise_id_idx ON submissions (exercise_id);
-- The grading queue stays small: finished submissions leave this partial index.
CREATE INDEX submissions_queue_idx ON submissions (submitted_at) WHERE status IN ('pending', 'running');

-- progress: a student's mastery of one topic (one row per student and topic), kept by the progress agent.
CREATE TABLE progress (
  id                  uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  student_id          uuid NOT NULL CONSTRAINT progress_student_id_fkey REFERENCES students (id) ON DELETE CASCADE,
  topic_id            uuid NOT NULL CONSTRAINT progress_topic_id_fkey REFERENCES topics (id) ON DELETE RESTRICT,
  -- 40% exercises + 30% quizzes + 20% code quality + 10% streak, computed by the progress agent.
  mastery_score       numeric(5, 2) NOT NULL DEFAULT 0,
  -- The product's bands (0-40, 41-70, 71-90, 91-100), derived so that they can never disagree.
  mastery_level       text GENERATED ALWAYS AS (
                        CASE WHEN mastery_score <= 40 THEN 'beginner'
                             WHEN mastery_score <= 70 THEN 'learning'
                             WHEN mastery_score <= 90 THEN 'proficient'
                             ELSE 'mastered' END) STORED,
  exercises_completed integer NOT NULL DEFAULT 0,
  quiz_scores         jsonb NOT NULL DEFAULT '[]',
  code_quality_avg    numeric(5, 2),
  streak_days         integer NOT NULL DEFAULT 0,
  last_activity_at    timestamptz,
  created_at          timestamptz NOT NULL DEFAULT now(),
  updated_at          timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT progress_mastery_score_check CHECK (mastery_score BETWEEN 0 AND 100),
  CONSTRAINT progress_exercises_completed_check CHECK (exercises_completed >= 0),
  CONSTRAINT progress_quiz_scores_check CHECK (jsonb_typeof(quiz_scores) = 'array'),
  CONSTRAINT progress_code_quality_avg_check CHECK (code_quality_avg BETWEEN 0 AND 100),
  CONSTRAINT progress_streak_days_check CHECK (streak_days >= 0),
  -- Also the index behind "progress of this student" (its leading column).
  CONSTRAINT progress_student_topic_key UNIQUE (student_id, topic_id)
);
-- Class-wide statistics per topic, and the RESTRICT check when a topic is deleted.
CREATE INDEX progress_topic_id_idx ON progress (topic_id);
CREATE TRIGGER progress_set_updated_at BEFORE UPDATE ON progress
  FOR EACH ROW EXECUTE FUNCTION set_updated_at();

-- chat_history: the tutoring conversation, append-only; the busiest table, hence a bigint key.
CREATE TABLE chat_history (
  id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  student_id uuid NOT NULL CONSTRAINT chat_history_student_id_fkey REFERENCES students (id) ON DELETE CASCADE,
  session_id uuid NOT NULL,
  sender     text NOT NULL,
  -- Which agent answered (the LearnFlow app-ids without '-agent').
  agent_type text,
  message    text NOT NULL,
  metadata   jsonb NOT NULL DEFAULT '{}',
  created_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT chat_history_sender_check CHECK (sender IN ('student', 'agent')),
  CONSTRAINT chat_history_agent_type_check
    CHECK (agent_type IN ('triage', 'concepts', 'code-review', 'debug', 'exercise', 'progress')),
  -- Agents' messages name the agent; students' messages do not.
  CONSTRAINT chat_history_sender_agent_check CHECK ((sender = 'agent') = (agent_type IS NOT NULL)),
  CONSTRAINT chat_history_message_check CHECK (length(message) BETWEEN 1 AND 100000),
  CONSTRAINT chat_history_metadata_check CHECK (jsonb_typeof(metadata) = 'object')
);
-- A conversation in order (the agents reload context by session).
CREATE INDEX chat_history_session_idx ON chat_history (session_id, created_at);
-- A student's recent conversations.
CREATE INDEX chat_history_student_idx ON chat_history (student_id, created_at DESC);

-- struggle_alerts: raised when a student is stuck, for a teacher to act on; resolved, never deleted.
CREATE TABLE struggle_alerts (
  id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  student_id      uuid NOT NULL CONSTRAINT struggle_alerts_student_id_fkey REFERENCES students (id) ON DELETE CASCADE,
  topic_id        uuid CONSTRAINT struggle_alerts_topic_id_fkey REFERENCES topics (id) ON DELETE SET NULL,
  -- The teacher expected to act; NULL until assigned.
  teacher_id      uuid CONSTRAINT struggle_alerts_teacher_id_fkey REFERENCES teachers (id) ON DELETE SET NULL,
  -- The product's triggers: same error 3+ times, stuck > 10 min, quiz < 50%, "I'm stuck", 5+ failed runs.
  trigger_type    text NOT NULL,
  severity        text NOT NULL,
  context         jsonb NOT NULL DEFAULT '{}',
  created_at      timestamptz NOT NULL DEFAULT now(),
  -- NULL while open: one column says whether and when, so the two cannot disagree.
  resolved_at     timestamptz,
  resolved_by     uuid CONSTRAINT struggle_alerts_resolved_by_fkey REFERENCES teachers (id) ON DELETE SET NULL,
  resolution_note text,
  CONSTRAINT struggle_alerts_trigger_type_check
    CHECK (trigger_type IN ('repeated_error', 'time_stuck', 'low_quiz_score', 'help_request', 'failed_runs')),
  CONSTRAINT struggle_alerts_severity_check CHECK (severity IN ('low', 'medium', 'high')),
  CONSTRAINT struggle_alerts_context_check CHECK (jsonb_typeof(context) = 'object'),
  CONSTRAINT struggle_alerts_resolved_at_check CHECK (resolved_at >= created_at),
  CONSTRAINT struggle_alerts_resolution_check
    CHECK (resolved_at IS NOT NULL OR (resolved_by IS NULL AND resolution_note IS NULL))
);
-- A teacher's open alerts, newest first; partial, so the resolved history does not weigh on it.
CREATE INDEX struggle_alerts_unresolved_idx ON struggle_alerts (teacher_id, created_at DESC) WHERE resolved_at IS NULL;
-- A student's alert history.
CREATE INDEX struggle_alerts_student_idx ON struggle_alerts (student_id, created_at DESC);
-- The remaining foreign keys, so deleting a teacher or topic does not scan the table.
CREATE INDEX struggle_alerts_topic_id_idx ON struggle_alerts (topic_id) WHERE topic_id IS NOT NULL;
CREATE INDEX struggle_alerts_resolved_by_idx ON struggle_alerts (resolved_by) WHERE resolved_by IS NOT NULL;
