#!/bin/sh
# Creates Temporal's two Postgres databases and brings their schemas up to the version
# of the temporal-sql-tool in this admin-tools image (which must match the server's
# version: docker-compose.yml pins both). Run by the one-shot `temporal-schema` service
# before the server starts; safe to run again, which is also how an upgrade of the
# server gets its schema changes.
#
# temporal-sql-tool reads its connection from the environment: SQL_PLUGIN (postgres12),
# SQL_HOST, SQL_PORT, SQL_USER, SQL_PASSWORD. DBNAME and VISIBILITY_DBNAME name the two
# databases (default temporal and temporal_visibility), as in the server's configuration
# (deploy/temporal/config/homeward.yaml); `make prod-check` gives them names of its own.
#
# POSIX sh on purpose: the admin-tools images built in the temporalio/temporal
# repository (1.30 on) no longer ship bash. pipefail where the shell has it (bash,
# busybox ash; not older dash), so the script also runs under the test's /bin/sh.
set -eu
if (set -o pipefail) 2>/dev/null; then set -o pipefail; fi

: "${SQL_PLUGIN:?SQL_PLUGIN is required (postgres12)}"
: "${SQL_HOST:?SQL_HOST is required}"
: "${SQL_USER:?SQL_USER is required}"
DBNAME=${DBNAME:-temporal}
VISIBILITY_DBNAME=${VISIBILITY_DBNAME:-temporal_visibility}
ATTEMPTS=${SCHEMA_ATTEMPTS:-30}
SLEEP=${SCHEMA_SLEEP_SECONDS:-2}

# create_db NAME creates the database unless it exists. temporal-sql-tool 1.29 itself
# ignores Postgres's duplicate-database error; an answer of 'already exists' (older
# tools) counts as success too. Anything else (the server still starting, a wrong
# password) is retried and finally fails the job.
create_db() {
  i=1
  while :; do
    if out=$(temporal-sql-tool --db "$1" create-database 2>&1); then
      echo "database $1: present"
      return 0
    fi
    case $out in
    *"already exists"*)
      echo "database $1: already exists"
      return 0
      ;;
    esac
    if [ "$i" -ge "$ATTEMPTS" ]; then
      printf 'database %s: could not create it after %s attempts:\n%s\n' "$1" "$i" "$out" >&2
      return 1
    fi
    echo "database $1: not yet ($i/$ATTEMPTS), retrying in ${SLEEP}s"
    i=$((i + 1))
    sleep "$SLEEP"
  done
}

# Database name, then the schema embedded in temporal-sql-tool (--schema-name), so no
# path inside the image matters.
for pair in "$DBNAME:postgresql/v12/temporal" "$VISIBILITY_DBNAME:postgresql/v12/visibility"; do
  db=${pair%%:*}
  schema=${pair#*:}
  create_db "$db"
  # Version tables only (no schema file): idempotent, and a no-op once they exist.
  temporal-sql-tool --db "$db" setup-schema -v 0.0
  # Applies every versioned step above the recorded version; nothing when up to date.
  temporal-sql-tool --db "$db" update-schema --schema-name "$schema"
  echo "database $db: schema up to date"
done
