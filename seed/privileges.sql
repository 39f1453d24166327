-- Database-level privileges. Run by migrate.sh as the superuser in the application database after
-- the migrations, on every run, so that a table added by any migration is covered.
-- psql variables: owner_role, app_role, dapr_role, dapr_schema.

-- The schema 'public' belongs to the database owner (pg_database_owner). PostgreSQL 15+ already
-- denies CREATE to PUBLIC there; saying so keeps that true on a database restored from older dumps.
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
REVOKE USAGE ON SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO :"app_role";

-- DML on every table, USAGE on sequences (identity columns); no TRUNCATE, REFERENCES or TRIGGER.
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO :"app_role";
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO :"app_role";
-- And on whatever the owner creates later, even outside this Job (a hotfix by a DBA as the owner).
ALTER DEFAULT PRIVILEGES FOR ROLE :"owner_role" IN SCHEMA public
  GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO :"app_role";
ALTER DEFAULT PRIVILEGES FOR ROLE :"owner_role" IN SCHEMA public
  GRANT USAGE, SELECT ON SEQUENCES TO :"app_role";

-- The migration history is readable (a service may check the schema version) but not writable.
REVOKE INSERT, UPDATE, DELETE ON public.schema_migrations FROM :"app_role";

-- Dapr's state store creates and migrates its own tables, so its role owns a schema of its own.
CREATE SCHEMA IF NOT EXISTS :"dapr_schema" AUTHORIZATION :"dapr_role";
ALTER SCHEMA :"dapr_schema" OWNER TO :"dapr_role";
REVOKE ALL ON SCHEMA :"dapr_schema" FROM PUBLIC;
