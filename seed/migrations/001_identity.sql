-- 001: identity. Who signs in (users) and the two profiles hanging off a user (teachers, students).
-- Runs as the owner role inside one transaction opened by migrate.sh: no BEGIN/COMMIT here.

-- bcrypt for password hashes (crypt/gen_salt); a trusted extension, so the database owner may create it.
CREATE EXTENSION IF NOT EXISTS pgcrypto;

-- Keeps updated_at honest whichever service writes the row.
CREATE FUNCTION set_updated_at() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  NEW.updated_at := now();
  RETURN NEW;
END
$$;

-- users: one row per person who signs in; authentication and role only.
CREATE TABLE users (
  id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  email         text NOT NULL,
  password_hash text NOT NULL,
  role          text NOT NULL,
  full_name     text NOT NULL,
  is_active     boolean NOT NULL DEFAULT true,
  last_login_at timestamptz,
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now(),
  -- Stored lower-case, so the unique key is case-insensitive without citext.
  CONSTRAINT users_email_check
    CHECK (email = lower(email) AND length(email) <= 254 AND email ~ '^[^@\s]+@[^@\s]+\.[^@\s]+$'),
  CONSTRAINT users_email_key UNIQUE (email),
  -- A crypt(3)/PHC string such as bcrypt's '$2a$10$...': never a plain-text password.
  CONSTRAINT users_password_hash_check CHECK (password_hash ~ '^\$[a-z0-9-]+\$'),
  CONSTRAINT users_role_check CHECK (role IN ('admin', 'teacher', 'student')),
  CONSTRAINT users_full_name_check CHECK (length(btrim(full_name)) BETWEEN 1 AND 200),
  -- Target of the profiles' (user_id, user_role) keys: a profile accepts only a user of its role.
  CONSTRAINT users_id_role_key UNIQUE (id, role)
);
CREATE TRIGGER users_set_updated_at BEFORE UPDATE ON users
  FOR EACH ROW EXECUTE FUNCTION set_updated_at();

-- teachers: the teaching profile of a user whose role is 'teacher' (at most one per user).
CREATE TABLE teachers (
  id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  user_id           uuid NOT NULL,
  -- Constant, part of the foreign key: changing the user's role is refused while this profile exists.
  user_role         text NOT NULL DEFAULT 'teacher' CONSTRAINT teachers_user_role_check CHECK (user_role = 'teacher'),
  subject_expertise text[] NOT NULL DEFAULT '{}',
  years_experience  smallint CONSTRAINT teachers_years_experience_check CHECK (years_experience BETWEEN 0 AND 80),
  created_at        timestamptz NOT NULL DEFAULT now(),
  updated_at        timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT teachers_user_id_key UNIQUE (user_id),
  CONSTRAINT teachers_user_fkey FOREIGN KEY (user_id, user_role) REFERENCES users (id, role) ON DELETE CASCADE
);
CREATE TRIGGER teachers_set_updated_at BEFORE UPDATE ON teachers
  FOR EACH ROW EXECUTE FUNCTION set_updated_at();

-- students: the learner profile of a user whose role is 'student', with the teacher who follows them.
CREATE TABLE students (
  id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  user_id       uuid NOT NULL,
  user_role     text NOT NULL DEFAULT 'student' CONSTRAINT students_user_role_check CHECK (user_role = 'student'),
  teacher_id    uuid CONSTRAINT students_teacher_id_fkey REFERENCES teachers (id) ON DELETE SET NULL,
  learning_pace text NOT NULL DEFAULT 'medium'
    CONSTRAINT students_learning_pace_check CHECK (learning_pace IN ('slow', 'medium', 'fast')),
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT students_user_id_key UNIQUE (user_id),
  CONSTRAINT students_user_fkey FOREIGN KEY (user_id, user_role) REFERENCES users (id, role) ON DELETE CASCADE
);
-- A teacher's class list; also keeps ON DELETE SET NULL from scanning the table.
CREATE INDEX students_teacher_id_idx ON students (teacher_id) WHERE teacher_id IS NOT NULL;
CREATE TRIGGER students_set_updated_at BEFORE UPDATE ON students
  FOR EACH ROW EXECUTE FUNCTION set_updated_at();
