-- Run once by the postgres image's entrypoint (docker-entrypoint-initdb.d), as the
-- superuser, when the data volume is still empty. Later changes to the passwords in the
-- environment do NOT reach an existing volume: change them with ALTER ROLE.
--
-- Three least-privilege roles instead of sharing the superuser:
--   temporal        may create databases: temporal-sql-tool (the temporal-schema job)
--                   creates and owns `temporal` and `temporal_visibility` itself. The
--                   visibility schema needs the btree_gin extension, which is "trusted",
--                   so a database owner may create it without being superuser.
--   homeward_owner  owns the `homeward` database and its tables: `homeward migrate`
--                   (the migrate job) connects as it, applies the goose migrations and
--                   then grants the application role what it needs
--                   (HOMEWARD_DATABASE_APP_ROLE=homeward).
--   homeward        the application: the api and the workers connect as it. It may read
--                   and write the case file, but on the audit trail (audit_log) only
--                   INSERT and SELECT: it can neither update, delete nor truncate an
--                   audit entry, nor drop the trigger that guards them (only the owner
--                   could), nor create anything.
--
-- \getenv (psql 15+) reads the passwords that docker-compose.yml passes to the postgres
-- container. An unset variable leaves :'...' unexpanded, the statement fails, and the
-- entrypoint (psql -v ON_ERROR_STOP=1) stops: better than a role with no password.
--
-- A volume created before the owner role existed (homeward owned everything): as the
-- superuser, CREATE ROLE homeward_owner LOGIN PASSWORD '...'; then in the homeward
-- database REASSIGN OWNED BY homeward TO homeward_owner; ALTER DATABASE homeward OWNER TO
-- homeward_owner; GRANT CONNECT ON DATABASE homeward TO homeward; and run migrate once.

\getenv temporal_password TEMPORAL_DB_PASSWORD
\getenv homeward_owner_password HOMEWARD_OWNER_DB_PASSWORD
\getenv homeward_password HOMEWARD_DB_PASSWORD

CREATE ROLE temporal LOGIN CREATEDB PASSWORD :'temporal_password';
CREATE ROLE homeward_owner LOGIN PASSWORD :'homeward_owner_password';
CREATE ROLE homeward LOGIN PASSWORD :'homeward_password';

CREATE DATABASE homeward OWNER homeward_owner;
-- Nobody else connects to Homeward's data (PUBLIC has CONNECT by default).
REVOKE ALL ON DATABASE homeward FROM PUBLIC;
GRANT CONNECT ON DATABASE homeward TO homeward;
-- Postgres 15+ gives the database owner the public schema, and nobody else may create
-- in it; said again here so that it holds on an older server too.
\connect homeward
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
