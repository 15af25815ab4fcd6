#!/bin/sh
# One PostgreSQL server, a database and an owner role per service: no service can read another's
# tables (the services share no tables; each role owns only its own database).
set -eu
for db in identity_matching verification publicity disbursement query reporting; do
  psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres <<SQL
CREATE ROLE $db LOGIN PASSWORD '$AID_DB_PASSWORD';
CREATE DATABASE $db OWNER $db TEMPLATE template0 LOCALE_PROVIDER libc LC_COLLATE 'C';
REVOKE ALL ON DATABASE $db FROM PUBLIC;
SQL
done
