#!/bin/sh
# First start of the compose PostgreSQL: one role and one database per service (a service
# never reads another's database), and the Temporal role, which creates its own two databases.
set -eu

psql --variable ON_ERROR_STOP=1 --username postgres --dbname postgres \
    --set registry_pw="$DANCU_REGISTRY_DB_PASSWORD" \
    --set case_status_pw="$DANCU_CASE_STATUS_DB_PASSWORD" \
    --set alerts_pw="$DANCU_ALERTS_DB_PASSWORD" \
    --set welfare_pw="$DANCU_WELFARE_DB_PASSWORD" \
    --set temporal_pw="$TEMPORAL_DB_PASSWORD" <<'SQL'
CREATE ROLE registry LOGIN PASSWORD :'registry_pw';
CREATE DATABASE dancu_registry OWNER registry;
CREATE ROLE case_status LOGIN PASSWORD :'case_status_pw';
CREATE DATABASE dancu_case_status OWNER case_status;
CREATE ROLE alerts LOGIN PASSWORD :'alerts_pw';
CREATE DATABASE dancu_alerts OWNER alerts;
CREATE ROLE welfare LOGIN PASSWORD :'welfare_pw';
CREATE DATABASE dancu_welfare OWNER welfare;
-- Temporal's auto-setup creates and migrates temporal and temporal_visibility itself.
CREATE ROLE temporal LOGIN CREATEDB PASSWORD :'temporal_pw';
-- A database is open to PUBLIC by default; only its owner may connect.
REVOKE CONNECT ON DATABASE dancu_registry, dancu_case_status, dancu_alerts, dancu_welfare FROM PUBLIC;
SQL
