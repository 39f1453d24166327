-- Cluster-level objects the migrations need: the roles and the application database.
-- Run by migrate.sh as the superuser, connected to the 'postgres' database, on every run.
-- psql variables (set by migrate.sh): database, owner_role, app_role, app_role_twin, dapr_role, dapr_role_twin,
-- app_connection_limit, dapr_connection_limit, and with backups on backup_role and backup_connection_limit
-- (whole numbers, checked by migrate.sh); the passwords are read
-- from the files app-role-password and dapr-role-password of CREDENTIALS_DIR, so that they appear in no
-- command line and no environment; app-role-username and dapr-role-username name the login each is for.
--
-- Rotation without downtime: a role has one password, so the application and Dapr roles have two logins
-- each, the role itself (which holds every grant) and its twin (a member of it that acts as it). The Secret
-- names the login in use; `npm run secrets -- --rotate` gives the other one a new password and switches the
-- Secret to it, `--finish` takes the old one's password away. This script sets the password and CONNECTION
-- LIMIT of the login the Secret names and leaves the other login's alone: a run during a rotation must not
-- lock out the pods that still use the old one.
\set app_password `cat "$CREDENTIALS_DIR/app-role-password"`
\set dapr_password `cat "$CREDENTIALS_DIR/dapr-role-password"`
\set app_login `cat "$CREDENTIALS_DIR/app-role-username"`
\set dapr_login `cat "$CREDENTIALS_DIR/dapr-role-username"`
SELECT :'app_login' IN (:'app_role', :'app_role_twin') AND :'dapr_login' IN (:'dapr_role', :'dapr_role_twin') AS logins_known \gset
\if :logins_known
\else
  \warn 'migrate: error: the username of a role Secret is neither the role nor its twin:' :app_login :dapr_login
  DO $$ BEGIN RAISE EXCEPTION 'unknown login in a role Secret'; END $$;
\endif

-- Two Jobs may run at once (a re-applied Job, an Argo CD hook): CREATE ROLE would race.
SELECT pg_advisory_lock(hashtext('learnflow.cluster'));

-- A failing statement below carries a password: keep statements out of the server log.
SET log_min_error_statement = panic;
SET log_statement = none;
SET log_min_duration_statement = -1;

-- Owns the database, the schema objects and every table; nobody logs in as it.
SELECT format('CREATE ROLE %I NOLOGIN', :'owner_role')
WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'owner_role') \gexec
ALTER ROLE :"owner_role" NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS;

-- The services' role: reads and writes rows, owns nothing, changes no schema.
SELECT format('CREATE ROLE %I LOGIN', :'app_role')
WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'app_role') \gexec
ALTER ROLE :"app_role" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS;

-- Dapr's state store: owns its own schema (its component creates its tables at start-up), nothing else.
SELECT format('CREATE ROLE %I LOGIN', :'dapr_role')
WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'dapr_role') \gexec
ALTER ROLE :"dapr_role" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS;

-- The twins: created without a password and with CONNECTION LIMIT 0, so that they count nothing in the
-- connection budget until a rotation uses them. `SET role` at login makes a twin act as its role: what
-- Dapr's state store creates is owned by the Dapr role whichever login made it.
SELECT format('CREATE ROLE %I LOGIN CONNECTION LIMIT 0', twin) FROM (VALUES (:'app_role_twin'), (:'dapr_role_twin')) AS twins (twin)
WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = twin) \gexec
ALTER ROLE :"app_role_twin" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS INHERIT;
ALTER ROLE :"dapr_role_twin" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS INHERIT;
GRANT :"app_role" TO :"app_role_twin" WITH INHERIT TRUE, SET TRUE;
GRANT :"dapr_role" TO :"dapr_role_twin" WITH INHERIT TRUE, SET TRUE;
ALTER ROLE :"app_role_twin" SET role = :'app_role';
ALTER ROLE :"dapr_role_twin" SET role = :'dapr_role';

-- The Secret is the source of truth for the login it names: re-running the Job sets its password again.
-- CONNECTION LIMIT: the services' pools together; the sum of all limits fits max_connections (checked at synth).
ALTER ROLE :"app_login" CONNECTION LIMIT :app_connection_limit PASSWORD :'app_password';
ALTER ROLE :"dapr_login" CONNECTION LIMIT :dapr_connection_limit PASSWORD :'dapr_password';

-- The backups' role (when postgres.backup is on): streams base backups (REPLICATION) and reads every
-- table for pg_dump (pg_read_all_data); it writes nothing and owns nothing.
\if :{?backup_role}
\set backup_password `cat "$CREDENTIALS_DIR/backup-role-password"`
SELECT format('CREATE ROLE %I LOGIN', :'backup_role')
WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'backup_role') \gexec
-- CONNECTION LIMIT: the base backup's size query and pg_dump (pg_basebackup's WAL senders are not counted
-- against it); in the connection budget too.
ALTER ROLE :"backup_role" LOGIN REPLICATION NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS
  CONNECTION LIMIT :backup_connection_limit PASSWORD :'backup_password';
GRANT pg_read_all_data TO :"backup_role";
\endif

-- CREATE DATABASE cannot run in a transaction block (nor in DO), hence \gexec.
SELECT format('CREATE DATABASE %I OWNER %I ENCODING %L TEMPLATE template0', :'database', :'owner_role', 'UTF8')
WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'database') \gexec
-- A database created earlier by someone else (e.g. POSTGRES_DB) is handed to the owner role.
ALTER DATABASE :"database" OWNER TO :"owner_role";

-- Only our roles may connect; PUBLIC gets CONNECT and TEMP on every new database by default.
REVOKE ALL ON DATABASE :"database" FROM PUBLIC;
GRANT CONNECT ON DATABASE :"database" TO :"app_role", :"dapr_role";
\if :{?backup_role}
GRANT CONNECT ON DATABASE :"database" TO :"backup_role";
\endif
-- Dapr's component uses unqualified table names: they resolve to its schema.
ALTER ROLE :"dapr_role" IN DATABASE :"database" SET search_path = :"dapr_schema";
-- Settings follow the login, not the role it sets: the twin needs its own.
ALTER ROLE :"dapr_role_twin" IN DATABASE :"database" SET search_path = :"dapr_schema";

SELECT pg_advisory_unlock(hashtext('learnflow.cluster'));
