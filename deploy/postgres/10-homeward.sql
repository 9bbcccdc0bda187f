-- Run once by the postgres image's entrypoint (docker-entrypoint-initdb.d), as the
-- superuser, when the data volume is still empty. Later changes to the passwords in the
-- environment do NOT reach an existing volume: change them with ALTER ROLE.
--
-- Two least-privilege roles instead of sharing the superuser:
--   temporal  may create databases: temporal-sql-tool (the temporal-schema job) creates
--             and owns `temporal` and `temporal_visibility` itself. The visibility schema
--             needs the btree_gin extension, which is "trusted", so a database owner may
--             create it without being superuser.
--   homeward  owns only the `homeward` database (case files, timeline), which
--             `homeward migrate` fills with goose migrations.
--
-- \getenv (psql 15+) reads the passwords that docker-compose.yml passes to the postgres
-- container. An unset variable leaves :'...' unexpanded, the statement fails, and the
-- entrypoint (psql -v ON_ERROR_STOP=1) stops: better than a role with no password.

\getenv temporal_password TEMPORAL_DB_PASSWORD
\getenv homeward_password HOMEWARD_DB_PASSWORD

CREATE ROLE temporal LOGIN CREATEDB PASSWORD :'temporal_password';
CREATE ROLE homeward LOGIN PASSWORD :'homeward_password';

CREATE DATABASE homeward OWNER homeward;
-- Nobody else connects to Homeward's data (PUBLIC has CONNECT by default).
REVOKE ALL ON DATABASE homeward FROM PUBLIC;
