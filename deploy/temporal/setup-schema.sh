#!/bin/sh
# One-shot (temporalio/admin-tools): install or upgrade Temporal's schemas on PostgreSQL.
#
# Idempotent: `setup-schema -v 0.0` only creates the version table when it is missing, and
# `update-schema` applies the versioned migrations the database does not have yet. Run it again
# after pinning newer temporalio/server and admin-tools images (same version for both), before
# the new server starts; docker compose does exactly that, as the server depends on this service.
#
# The databases and the "temporal" role exist already (deploy/postgres/init-databases.sh).
# Environment: SQL_HOST, SQL_PORT, SQL_USER, SQL_PASSWORD (read by temporal-sql-tool itself).
set -eu

SCHEMA_ROOT=/etc/temporal/schema/postgresql/v12

echo "waiting for PostgreSQL at ${SQL_HOST}:${SQL_PORT} ..."
tries=0
until nc -z "${SQL_HOST}" "${SQL_PORT}"; do
  tries=$((tries + 1))
  if [ "$tries" -ge 30 ]; then
    echo "PostgreSQL did not answer" >&2
    exit 1
  fi
  sleep 2
done

for pair in "temporal:temporal" "temporal_visibility:visibility"; do
  db=${pair%%:*}
  schema=${pair#*:}
  echo "schema of ${db} ..."
  temporal-sql-tool --plugin postgres12 --ep "${SQL_HOST}" -p "${SQL_PORT}" -u "${SQL_USER}" \
    --db "${db}" setup-schema -v 0.0
  temporal-sql-tool --plugin postgres12 --ep "${SQL_HOST}" -p "${SQL_PORT}" -u "${SQL_USER}" \
    --db "${db}" update-schema -d "${SCHEMA_ROOT}/${schema}/versioned"
done
echo "Temporal schemas are up to date"
