#!/bin/bash
# Creates peyvand's roles and databases on the first start of an empty data volume (the postgres
# image runs /docker-entrypoint-initdb.d/* once, as the superuser; later starts skip it).
#
#   role temporal  owns  temporal, temporal_visibility   (Temporal's history and visibility)
#   role peyvand   owns  crm, erp                        (the sandbox systems)
#                        ingress                         (the webhooks' remembered event ids)
#
# The passwords come from the environment (TEMPORAL_DB_PASSWORD, APP_DB_PASSWORD, set in .env)
# and reach psql as variables, never spliced into the SQL text.
set -euo pipefail

: "${TEMPORAL_DB_PASSWORD:?TEMPORAL_DB_PASSWORD is not set (see deploy/env.example)}"
: "${APP_DB_PASSWORD:?APP_DB_PASSWORD is not set (see deploy/env.example)}"

psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
  -v temporal_password="$TEMPORAL_DB_PASSWORD" \
  -v peyvand_password="$APP_DB_PASSWORD" <<'SQL'
CREATE ROLE temporal LOGIN PASSWORD :'temporal_password';
CREATE ROLE peyvand LOGIN PASSWORD :'peyvand_password';

CREATE DATABASE temporal OWNER temporal;
CREATE DATABASE temporal_visibility OWNER temporal;
CREATE DATABASE crm OWNER peyvand;
CREATE DATABASE erp OWNER peyvand;
CREATE DATABASE ingress OWNER peyvand;

-- Nobody else may connect to them (PUBLIC has CONNECT on new databases by default).
REVOKE ALL ON DATABASE temporal, temporal_visibility, crm, erp, ingress FROM PUBLIC;

-- Temporal's SQL visibility schema indexes keyword lists with GIN; create the extension as
-- superuser so the schema tool, running as "temporal", finds it there.
\connect temporal_visibility
CREATE EXTENSION IF NOT EXISTS btree_gin;
SQL
