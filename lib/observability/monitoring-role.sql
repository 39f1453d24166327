-- postgres_exporter's login role: a member of pg_monitor (read access to the statistics views and
-- settings, PostgreSQL docs "Predefined Roles"), no privilege on any table, at most 3 connections.
-- Run by monitoring-role.sh as the superuser on every run; psql variables monitor_role and monitor_role_twin;
-- the password is read from the file monitor-role-password of CREDENTIALS_DIR, so it appears in no command
-- line, and is set on the login that monitor-role-username names: the role, or its twin after a rotation
-- (seed/cluster.sql explains the twins; the other login's password and limit are left alone).
\set monitor_password `cat "$CREDENTIALS_DIR/monitor-role-password"`
\set monitor_login `cat "$CREDENTIALS_DIR/monitor-role-username"`
SELECT :'monitor_login' IN (:'monitor_role', :'monitor_role_twin') AS login_known \gset
\if :login_known
\else
  \warn 'monitoring-role: error: the username of the monitoring Secret is neither the role nor its twin:' :monitor_login
  DO $$ BEGIN RAISE EXCEPTION 'unknown login in the monitoring Secret'; END $$;
\endif

-- A failing statement below carries a password: keep statements out of the server log.
SET log_min_error_statement = panic;
SET log_statement = none;
SET log_min_duration_statement = -1;

SELECT pg_advisory_lock(hashtext('learnflow.cluster'));
SELECT format('CREATE ROLE %I LOGIN', :'monitor_role')
WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'monitor_role') \gexec
ALTER ROLE :"monitor_role" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS;
GRANT pg_monitor TO :"monitor_role";
SELECT format('CREATE ROLE %I LOGIN CONNECTION LIMIT 0', :'monitor_role_twin')
WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'monitor_role_twin') \gexec
ALTER ROLE :"monitor_role_twin" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS INHERIT;
GRANT :"monitor_role" TO :"monitor_role_twin" WITH INHERIT TRUE, SET TRUE;
ALTER ROLE :"monitor_role_twin" SET role = :'monitor_role';
-- The Secret is the source of truth for the login it names: re-running the Job sets its password again.
ALTER ROLE :"monitor_login" CONNECTION LIMIT 3 PASSWORD :'monitor_password';
SELECT pg_advisory_unlock(hashtext('learnflow.cluster'));
