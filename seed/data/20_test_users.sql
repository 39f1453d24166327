-- Test users for development profiles: an admin, a teacher and a student who follows that teacher.
-- Passwords never reach the server: seed.sh hashes each one from the seed-users Secret (bcrypt, cost 10,
-- the $2a$ form pgcrypto's crypt() verifies) and passes only the hashes, as SEED_<ROLE>_PASSWORD_HASH.
-- A statement the server logs (log_statement = all, a slow or a failing one) shows a hash at most.
-- Existing users are never touched: a changed password or name survives every re-run.
\getenv admin_password_hash SEED_ADMIN_PASSWORD_HASH
\getenv teacher_password_hash SEED_TEACHER_PASSWORD_HASH
\getenv student_password_hash SEED_STUDENT_PASSWORD_HASH

INSERT INTO users (email, password_hash, role, full_name) VALUES
  ('admin@learnflow.dev', :'admin_password_hash', 'admin', 'LearnFlow Admin'),
  ('teacher@learnflow.dev', :'teacher_password_hash', 'teacher', 'Mr. Rodriguez'),
  ('student@learnflow.dev', :'student_password_hash', 'student', 'Maya Johnson')
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
