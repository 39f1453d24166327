-- postgres_exporter's login role: a member of pg_monitor (read access to the statistics views and
-- settings, PostgreSQL docs "Predefined Roles"), no privilege on any table, at most 3 connections.
-- Run by monitoring-role.sh as the superuser on every run; psql variable monitor_role; the password is
-- read from the file monitor-role-password of CREDENTIALS_DIR, so it appears in no command line.
\set monitor_password `cat "$CREDENTIALS_DIR/monitor-role-password"`

-- A failing statement below carries a password: keep statements out of the server log.
SET log_min_error_statement = panic;
SET log_statement = none;
SET log_min_duration_statement = -1;

SELECT pg_advisory_lock(hashtext('learnflow.cluster'));
SELECT format('CREATE ROLE %I LOGIN', :'monitor_role')
WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'monitor_role') \gexec
-- The Secret is the source of truth: rotating it and re-running the Job rotates the password.
ALTER ROLE :"monitor_role" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS
  CONNECTION LIMIT 3 PASSWORD :'monitor_password';
GRANT pg_monitor TO :"monitor_role";
SELECT pg_advisory_unlock(hashtext('learnflow.cluster'));
