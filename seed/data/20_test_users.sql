-- Test users for development profiles: an admin, a teacher and a student who follows that teacher.
-- Passwords come from the seed-users Secret through the environment (\getenv, never a command line)
-- and are stored only as bcrypt hashes made by pgcrypto. Existing users are never touched: a changed
-- password or name survives every re-run.
\getenv admin_password SEED_ADMIN_PASSWORD
\getenv teacher_password SEED_TEACHER_PASSWORD
\getenv student_password SEED_STUDENT_PASSWORD

-- NOT EXISTS keeps bcrypt (deliberately slow) from running for users that are already there.
INSERT INTO users (email, password_hash, role, full_name)
SELECT u.email, crypt(u.password, gen_salt('bf', 10)), u.role, u.full_name
FROM (
  VALUES
    ('admin@learnflow.dev', :'admin_password', 'admin', 'LearnFlow Admin'),
    ('teacher@learnflow.dev', :'teacher_password', 'teacher', 'Mr. Rodriguez'),
    ('student@learnflow.dev', :'student_password', 'student', 'Maya Johnson')
) AS u (email, password, role, full_name)
WHERE NOT EXISTS (SELECT FROM users WHERE users.email = u.email)
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
