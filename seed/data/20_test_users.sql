-- Test users for development profiles: an admin, a teacher and a student who follows that teacher.
-- Passwords come from the seed-users Secret as the files that SEED_<ROLE>_PASSWORD_FILE names (never a
-- command line or the environment) and are stored only as bcrypt hashes made by pgcrypto. Existing users
-- are never touched: a changed password or name survives every re-run.
\set admin_password `cat "$SEED_ADMIN_PASSWORD_FILE"`
\set teacher_password `cat "$SEED_TEACHER_PASSWORD_FILE"`
\set student_password `cat "$SEED_STUDENT_PASSWORD_FILE"`

-- One statement per user, so that each (one bcrypt hash, well under the server's 1 s
-- log_min_duration_statement) never reaches the slow-statement log with its password in the text.
-- NOT EXISTS keeps bcrypt (deliberately slow) from running for users that are already there.
INSERT INTO users (email, password_hash, role, full_name)
SELECT 'admin@learnflow.dev', crypt(:'admin_password', gen_salt('bf', 10)), 'admin', 'LearnFlow Admin'
WHERE NOT EXISTS (SELECT FROM users WHERE email = 'admin@learnflow.dev')
ON CONFLICT (email) DO NOTHING;

INSERT INTO users (email, password_hash, role, full_name)
SELECT 'teacher@learnflow.dev', crypt(:'teacher_password', gen_salt('bf', 10)), 'teacher', 'Mr. Rodriguez'
WHERE NOT EXISTS (SELECT FROM users WHERE email = 'teacher@learnflow.dev')
ON CONFLICT (email) DO NOTHING;

INSERT INTO users (email, password_hash, role, full_name)
SELECT 'student@learnflow.dev', crypt(:'student_password', gen_salt('bf', 10)), 'student', 'Maya Johnson'
WHERE NOT EXISTS (SELECT FROM users WHERE email = 'student@learnflow.dev')
ON CONFLICT (email) DO NOTHING;

INSERT INTO teachers (user_id, subject_expertise, years_experience)
SELECT id, ARRAY['python', 'computer science'], 12
FROM users
WHERE email = 'teacher@learnflow.dev' AND role = 'teacher'
ON CONFLICT (user_id) DO NOTHING;

INSERT INTO students (user_id, teacher_id, learning_pace)
SELECT s.id, t.id, 'medium'
FROM users AS s
LEFT JOIN (teachers AS t JOIN users AS tu ON tu.id = t.user_id AND tu.email = 'teacher@learnflow.dev') ON true
WHERE s.email = 'student@learnflow.dev' AND s.role = 'student'
ON CONFLICT (user_id) DO NOTHING;
